// Command loadclient drives the side-by-side benchmark of tlntsvr against
// the peer Telnet daemons (see bench/compare.sh, which starts them). It
// speaks Telnet itself: it answers negotiation as a terminal client must,
// logs on, and finds prompts and command ends by markers the shell
// computes.
//
//	loadclient ports N                 print N free loopback TCP ports
//	loadclient hash PASSWORD [COST]    print a bcrypt hash for a users file
//	loadclient gen DIR SIZE            write DIR/text, DIR/bin, DIR/ff (see gen)
//	loadclient relay ADDR USER         serve the relay ceiling (see relay.go)
//	loadclient logonrate [flags]       whole logons per second (see logonrate.go)
//	loadclient scale [flags]           one daemon, thousands of sessions (bench/scale.sh)
//	loadclient run [flags]             measure; prints a Markdown table
//	loadclient report FILE.json        the table again, from run --json
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tlntsvr/tlntsvr/internal/auth"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "ports":
		err = ports(os.Args[2:])
	case "hash":
		err = hash(os.Args[2:])
	case "gen":
		err = gen(os.Args[2:])
	case "relay":
		err = relayServe(os.Args[2:])
	case "logonrate":
		err = logonRate(os.Args[2:])
	case "scale":
		err = scale(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "report":
		err = reportFile(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadclient:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadclient ports N | hash PASSWORD [COST] | gen DIR SIZE | relay ADDR USER | logonrate [flags] | scale [flags] | run [flags] | report FILE.json")
	os.Exit(2)
}

// ports prints n loopback ports that were free a moment ago.
func ports(args []string) error {
	if len(args) != 1 {
		usage()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 16 {
		return fmt.Errorf("ports: want a count 1..16, got %q", args[0])
	}
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

func hash(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		usage()
	}
	cost := auth.DefaultCost
	if len(args) == 2 {
		c, err := strconv.Atoi(args[1])
		if err != nil {
			return fmt.Errorf("hash: cost %q: %w", args[1], err)
		}
		cost = c
	}
	h, err := auth.HashPasswordCost(args[0], cost)
	if err != nil {
		return err
	}
	fmt.Println(h)
	return nil
}

// gen writes the outputs the shell prints, SIZE bytes each and the same on
// every run: DIR/text, base64 in 76-column lines as base64(1) writes it (no
// IAC at all); DIR/bin, random bytes (1 in 256 is IAC, as in a compressed
// file); DIR/ff, binary in which half the bytes are 0xFF (as in a dump of
// erased flash), each doubled on the wire.
func gen(args []string) error {
	if len(args) != 2 {
		usage()
	}
	size, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || size < 1 || size > 4<<30 {
		return fmt.Errorf("gen: size %q: want 1 byte .. 4 GiB", args[1])
	}
	r := rand.New(rand.NewPCG(7, 8))
	write := func(name string, chunk func() []byte) error {
		f, err := os.Create(filepath.Join(args[0], name))
		if err != nil {
			return err
		}
		for left := size; left > 0; {
			c := chunk()
			if int64(len(c)) > left {
				c = c[:left]
			}
			if _, err := f.Write(c); err != nil {
				f.Close()
				return err
			}
			left -= int64(len(c))
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chmod(f.Name(), 0o644)
	}
	raw := make([]byte, 57*1024) // 57 bytes make one 76-column line
	text := make([]byte, 0, 77*1024)
	err = write("text", func() []byte {
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		text = text[:0]
		for i := 0; i < len(raw); i += 57 {
			text = base64.StdEncoding.AppendEncode(text, raw[i:i+57])
			text = append(text, '\n')
		}
		return text
	})
	if err != nil {
		return err
	}
	bin := make([]byte, 64<<10)
	err = write("bin", func() []byte {
		for i := 0; i < len(bin); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				bin[i+j] = byte(v >> (8 * j))
			}
		}
		return bin
	})
	if err != nil {
		return err
	}
	return write("ff", func() []byte {
		for i := range bin {
			if v := r.Uint32(); v&1 == 0 {
				bin[i] = 0xFF
			} else {
				bin[i] = byte(v >> 8)
			}
		}
		return bin
	})
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var o options
	fs.Var(&o.servers, "server", "NAME=HOST:PORT,pid=PID,daemon=COMM+COMM[,ours][,vs=NAME][,tls] (repeat; the first is the server under test; ours marks a candidate build of it, not a peer; vs=NAME a variant of server NAME, compared with it round by round; tls: dialled with TLS from the first byte)")
	fs.StringVar(&o.relay, "relay", "", "HOST:PORT,pid=PID of a relay (loadclient relay): the ceiling a server can reach")
	fs.StringVar(&o.user, "user", "", "account to log on as")
	fs.StringVar(&o.password, "password", "", "its password")
	var text, bin, ff string
	fs.StringVar(&text, "text", "", "file of text output (see gen)")
	fs.StringVar(&bin, "bin", "", "file of random binary output (see gen)")
	fs.StringVar(&ff, "ff", "", "file of 0xFF-heavy output (see gen)")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds; every figure is the median over rounds")
	fs.IntVar(&o.prompts, "prompts", 10, "connect → login prompt samples per server and round")
	fs.IntVar(&o.logons, "logons", 3, "full logons (password → shell prompt samples) per server and round")
	fs.IntVar(&o.echo, "echo", 2000, "keystrokes timed per server and round")
	fs.IntVar(&o.conc, "sessions", 1000, "simultaneous sessions in the concurrency test (0: skip)")
	fs.IntVar(&o.concParallel, "parallel", 50, "logons in flight at once in the concurrency test")
	fs.DurationVar(&o.concBudget, "budget", 0, "time allowed per server to open the sessions (0: 60s + 60ms per session)")
	fs.DurationVar(&o.hold, "hold", 0, "keep the sessions open this long after measuring them (to look at the server)")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on one transfer (0: 10s + 1s per 5 MB)")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 0, "bcrypt cost of tlntsvr's users file: its check is timed to report what the server adds to it (0: not)")
	fs.Float64Var(&o.cryptMS, "crypt-ms", 0, "time of the peers' password check (crypt(3) of the /etc/shadow hash), in ms")
	fs.StringVar(&o.jsonOut, "json", "", "also write the raw results here")
	fs.StringVar(&o.note, "note", "", "a line printed above the table (versions)")
	fs.Parse(args)
	for _, k := range []*kind{
		{Key: "text", Label: "text (base64)", File: text},
		{Key: "bin", Label: "random binary", File: bin},
		{Key: "ff", Label: "0xFF-heavy binary", File: ff},
	} {
		if k.File != "" {
			o.kinds = append(o.kinds, k)
		}
	}
	if len(o.servers) == 0 || o.user == "" || len(o.kinds) == 0 {
		return fmt.Errorf("run: --server, --user and at least one of --text, --bin, --ff are required")
	}
	return measure(&o)
}

func reportFile(args []string) error {
	if len(args) != 1 {
		usage()
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	report(os.Stdout, &r)
	return nil
}
