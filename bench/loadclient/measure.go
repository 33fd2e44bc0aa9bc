package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

type options struct {
	servers        serverList
	relay          string // HOST:PORT,pid=PID, or ""
	user, password string
	kinds          []*kind
	rounds         int
	prompts        int
	logons         int
	echo           int
	conc           int
	concParallel   int
	concBudget     time.Duration
	hold           time.Duration
	answerAll      bool // the concurrency test has every session run a command
	timeout        time.Duration
	jsonOut        string
	note           string
	// The password checks: tlntsvr's bcrypt at this cost (timed here, in
	// each round), the peers' crypt(3) of /etc/shadow (timed by the
	// caller, in ms; 0: unknown).
	bcryptCost int
	cryptMS    float64
}

// kind is one kind of shell output, in a file the shell cats.
type kind struct {
	Key   string // short name, part of the metric keys
	Label string
	File  string
	Size  int64
	// Timeout bounds one transfer: a server slower than 5 MB/s is broken
	// for this purpose, and is recorded as stalling.
	Timeout time.Duration
}

func (k *kind) mbs() string { return k.Key + "_MBps" }
func (k *kind) cpu() string { return k.Key + "_cpu_s_per_GB" }

// server is one daemon under measurement.
type server struct {
	Name   string
	Addr   string
	PID    int             // root of its process tree
	Daemon map[string]bool // process names that are the daemon itself
	// Ours marks tlntsvr and any candidate build of it: these get ratios
	// and verdicts; the others are the peers they are compared with.
	Ours bool
	// Vs names the server this one is a variant of (tlntsvr with
	// recording on, or over TLS, of tlntsvr): the report compares the two
	// round by round. Implies Ours.
	Vs string
	// TLS: the address is a listen_tls one, dialled with TLS (Addr is
	// then tls://HOST:PORT); as a variant it has TLS's targets.
	TLS bool
}

type serverList []*server

func (l *serverList) String() string { return fmt.Sprint(len(*l), " servers") }

// Set parses NAME=HOST:PORT,pid=PID,daemon=COMM+COMM[,ours][,vs=NAME][,tls].
func (l *serverList) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("server %q: want NAME=HOST:PORT,pid=PID,daemon=COMM", v)
	}
	fields := strings.Split(rest, ",")
	s := &server{Name: name, Addr: fields[0], Daemon: map[string]bool{}}
	for _, f := range fields[1:] {
		k, val, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			pid, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("server %q: pid %q", name, val)
			}
			s.PID = pid
		case "daemon":
			for _, c := range strings.Split(val, "+") {
				s.Daemon[c] = true
			}
		case "ours":
			s.Ours = true
		case "vs":
			s.Vs, s.Ours = val, true
		case "tls":
			s.TLS, s.Ours = true, true
			s.Addr = tlsScheme + s.Addr
		default:
			return fmt.Errorf("server %q: unknown field %q", name, k)
		}
	}
	if s.PID == 0 || len(s.Daemon) == 0 {
		return fmt.Errorf("server %q: pid= and daemon= are required", name)
	}
	s.Ours = s.Ours || len(*l) == 0 // the first is the server under test
	*l = append(*l, s)
	return nil
}

// series holds one figure's value in each round, -1 where the round has
// none (every figure is positive).
type series []float64

// median is the median over the rounds that have a value, or -1.
func (s series) median() float64 {
	var c []float64
	for _, v := range s {
		if v >= 0 {
			c = append(c, v)
		}
	}
	if len(c) == 0 {
		return -1
	}
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// count is the number of rounds with a value.
func (s series) count() int {
	n := 0
	for _, v := range s {
		if v >= 0 {
			n++
		}
	}
	return n
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return -1
	}
	c := slices.Clone(d)
	slices.Sort(c)
	i := int(p*float64(len(c))+0.5) - 1
	return c[min(max(i, 0), len(c)-1)]
}

// results is everything measured; per-round series are keyed by metric.
type results struct {
	Started time.Time
	Note    string
	Kinds   []*kind
	Rounds  int
	Echo    int // keystrokes per round
	// Sessions is the concurrency test's session count (0: not run).
	Sessions int
	// Load averages at the start and the end: the machine was meant to be
	// otherwise idle.
	LoadBefore, LoadAfter string
	CryptNote             string                       // how the password checks were timed
	Ceiling               map[string]series            // metric → per round
	Relay                 map[string]series            // metric → per round; empty without a relay
	Servers               map[string]map[string]series // server → metric → per round
	Conc                  map[string]*concResult       // server → concurrency figures
	Errors                map[string][]string          // server → first errors
	Order                 []string                     // server names, the subject first
	Ours                  map[string]bool              // see server.Ours
	Vs                    map[string]string            // see server.Vs
	TLS                   map[string]bool              // see server.TLS
	errCount              map[string]int
	mu                    sync.Mutex
}

// add records a server's figure for a round.
func (r *results) add(srv, metric string, round int, v float64) {
	if r.Servers[srv] == nil {
		r.Servers[srv] = map[string]series{}
	}
	s := r.Servers[srv][metric]
	for len(s) < r.Rounds {
		s = append(s, -1)
	}
	s[round] = v
	r.Servers[srv][metric] = s
}

func (r *results) fail(srv string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errCount[srv]++
	if len(r.Errors[srv]) < 5 {
		r.Errors[srv] = append(r.Errors[srv], err.Error())
	}
	fmt.Fprintf(os.Stderr, "  %s: %v\n", srv, err)
}

// Metric keys, besides the per-kind throughput and CPU ones.
const (
	mEchoP50 = "echo_p50_us"
	mEchoP99 = "echo_p99_us"
	mToLogin = "to_login_prompt_ms"
	mToShell = "to_shell_prompt_ms"
	// The password check (bcrypt for ours, crypt(3) for the peers), and
	// password → shell prompt less it: what the server adds to the check.
	mCheck      = "password_check_ms"
	mAfterCheck = "after_check_ms"
)

func measure(o *options) error {
	res := &results{
		Started: time.Now(), Note: o.note, Kinds: o.kinds, Rounds: o.rounds, Echo: o.echo, Sessions: o.conc,
		Ceiling: map[string]series{}, Relay: map[string]series{}, Servers: map[string]map[string]series{},
		Conc: map[string]*concResult{}, Errors: map[string][]string{}, errCount: map[string]int{},
	}
	res.Ours, res.Vs, res.TLS = map[string]bool{}, map[string]string{}, map[string]bool{}
	for _, s := range o.servers {
		res.Order = append(res.Order, s.Name)
		res.Ours[s.Name] = s.Ours
		res.TLS[s.Name] = s.TLS
		if s.Vs != "" {
			res.Vs[s.Name] = s.Vs
		}
	}
	res.LoadBefore = loadavg()
	for _, k := range o.kinds {
		abs, err := filepath.Abs(k.File)
		if err != nil {
			return err
		}
		k.File = abs // the shell runs in the account's home
		st, err := os.Stat(abs)
		if err != nil {
			return err
		}
		k.Size = st.Size()
		k.Timeout = o.transferTimeout(k)
	}
	cred, err := credential(o.user)
	if err != nil {
		return err
	}
	stalled := map[string]bool{} // server/kind pairs that timed out once
	relayAddr, relayPID, err := parseRelay(o.relay)
	if err != nil {
		return err
	}

	var bcryptHash []byte
	if o.bcryptCost > 0 {
		h, err := bcrypt.GenerateFromPassword([]byte(o.password), o.bcryptCost)
		if err != nil {
			return err
		}
		bcryptHash = h
		res.CryptNote = fmt.Sprintf("password check: tlntsvr's bcrypt at cost %d timed by this client in each round (median of 3); the peers' crypt(3) of the account's /etc/shadow hash %.2f ms (timed once by the caller)", o.bcryptCost, o.cryptMS)
	}
	for round := range o.rounds {
		fmt.Fprintf(os.Stderr, "round %d/%d\n", round+1, o.rounds)
		checkMS := map[bool]float64{false: -1, true: -1} // ours → the check's time
		if o.cryptMS > 0 {
			checkMS[false] = o.cryptMS
		}
		if bcryptHash != nil {
			var d []time.Duration
			for range 3 {
				start := time.Now()
				bcrypt.CompareHashAndPassword(bcryptHash, []byte(o.password))
				d = append(d, time.Since(start))
			}
			checkMS[true] = ms(percentile(d, 0.5))
		}
		for _, k := range o.kinds {
			el, cpu, _, err := ceilingRun(k.File, cred, k.Timeout)
			if err != nil {
				return fmt.Errorf("ceiling: %w", err)
			}
			size := float64(k.Size)
			res.Ceiling[k.mbs()] = append(res.Ceiling[k.mbs()], size/el.Seconds()/1e6)
			res.Ceiling[k.cpu()] = append(res.Ceiling[k.cpu()], cpu.Seconds()/(size/1e9))
			fmt.Fprintf(os.Stderr, "  bare PTY %s: %.1f MB/s, %.2f CPU s/GB\n", k.Key, size/el.Seconds()/1e6, cpu.Seconds()/(size/1e9))
			if relayAddr == "" {
				continue
			}
			before := treeCPU(relayPID)
			el, n, err := relayRun(relayAddr, k.File, k.Timeout)
			if err == nil && n < k.Size {
				err = fmt.Errorf("%d bytes arrived, want at least %d", n, k.Size)
			}
			if err != nil {
				return fmt.Errorf("relay: cat %s: %w", k.File, err)
			}
			rcpu := treeCPU(relayPID) - before
			res.Relay[k.mbs()] = append(res.Relay[k.mbs()], size/el.Seconds()/1e6)
			res.Relay[k.cpu()] = append(res.Relay[k.cpu()], rcpu.Seconds()/(size/1e9))
			fmt.Fprintf(os.Stderr, "  relay %s: %.1f MB/s, %.2f CPU s/GB\n", k.Key, size/el.Seconds()/1e6, rcpu.Seconds()/(size/1e9))
		}
		// Alternate: each round starts with the next server.
		for i := range o.servers {
			s := o.servers[(i+round)%len(o.servers)]
			roundFor(o, res, s, round, stalled)
			if c := checkMS[s.Ours]; c >= 0 {
				res.add(s.Name, mCheck, round, c)
				if v := res.Servers[s.Name][mToShell]; round < len(v) && v[round] >= 0 {
					res.add(s.Name, mAfterCheck, round, max(v[round]-c, 0))
				}
			}
		}
	}
	if o.conc > 0 {
		for i, s := range o.servers {
			if i > 0 {
				// A thousand processes have just exited: let the kernel
				// finish tearing them down before the next server's turn.
				time.Sleep(10 * time.Second)
			}
			res.Conc[s.Name] = concurrency(o, res, s)
		}
	}
	res.LoadAfter = loadavg()
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	report(os.Stdout, res)
	return nil
}

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// parseRelay parses --relay HOST:PORT,pid=PID.
func parseRelay(v string) (addr string, pid int, err error) {
	if v == "" {
		return "", 0, nil
	}
	addr, rest, _ := strings.Cut(v, ",")
	p, ok := strings.CutPrefix(rest, "pid=")
	if pid, err = strconv.Atoi(p); !ok || err != nil || pid <= 0 {
		return "", 0, fmt.Errorf("relay %q: want HOST:PORT,pid=PID", v)
	}
	return addr, pid, nil
}

func (o *options) transferTimeout(k *kind) time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return 10*time.Second + time.Duration(k.Size/5e6)*time.Second
}

func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if os.Geteuid() != 0 {
		return nil, nil // cat runs as whoever runs this
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// roundFor runs one round's single-session measurements on one server.
func roundFor(o *options, res *results, s *server, round int, stalled map[string]bool) {
	const step = 20 * time.Second
	// Connect → login prompt, without logging on.
	var toLogin []time.Duration
	for range o.prompts {
		start := time.Now()
		t, err := dialTelnet(s.Addr, "", step)
		if err != nil {
			res.fail(s.Name, err)
			continue
		}
		if _, err := t.expect(start.Add(step), []string{loginPrompt}); err != nil {
			res.fail(s.Name, fmt.Errorf("login prompt: %w", err))
		} else {
			toLogin = append(toLogin, time.Since(start))
		}
		t.Close()
	}
	// Full logons; the last one stays for the session measurements.
	var toShell []time.Duration
	var sess *tconn
	for i := range o.logons {
		t, tl, ts, err := logon(s.Addr, "", o.user, o.password, step)
		if err != nil {
			res.fail(s.Name, err)
			continue
		}
		toLogin = append(toLogin, tl)
		toShell = append(toShell, ts)
		if i == o.logons-1 {
			sess = t
		} else {
			t.Close()
		}
	}
	if len(toLogin) > 0 {
		res.add(s.Name, mToLogin, round, ms(percentile(toLogin, 0.5)))
	}
	if len(toShell) > 0 {
		res.add(s.Name, mToShell, round, ms(percentile(toShell, 0.5)))
	}
	if sess == nil {
		return
	}
	defer sess.Close()
	for _, k := range o.kinds {
		if stalled[s.Name+"/"+k.Key] {
			continue // once is enough to know
		}
		before, stray := treeCPU(s.PID), sess.stray
		el, n, err := sess.command("cat "+k.File, k.Timeout)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			stalled[s.Name+"/"+k.Key] = true
			res.add(s.Name, "stalled_"+k.Key, round, 1)
			res.fail(s.Name, fmt.Errorf("cat %s: not done in %v; not tried again", k.File, k.Timeout))
			return // the session is still busy with it
		}
		if err != nil {
			res.fail(s.Name, fmt.Errorf("cat %s: %w", k.File, err))
			return
		}
		cpu := treeCPU(s.PID) - before
		size := float64(k.Size)
		if stray := sess.stray - stray; stray > 0 {
			res.fail(s.Name, fmt.Errorf("cat %s: %d stray Telnet commands in the data: the server sent an IAC undoubled", k.File, stray))
			res.add(s.Name, "corrupt_"+k.Key, round, float64(stray))
			continue // bytes arrived, but not the ones sent
		}
		if float64(n) < size {
			res.fail(s.Name, fmt.Errorf("cat %s: %d data bytes arrived, want at least %.0f", k.File, n, size))
			continue
		}
		res.add(s.Name, k.mbs(), round, size/el.Seconds()/1e6)
		res.add(s.Name, k.cpu(), round, cpu.Seconds()/(size/1e9))
		fmt.Fprintf(os.Stderr, "  %s %s: %.1f MB/s, %.2f CPU s/GB\n", s.Name, k.Key, size/el.Seconds()/1e6, cpu.Seconds()/(size/1e9))
	}
	lat, err := sess.echoLatency(o.echo, time.Minute)
	if err != nil {
		res.fail(s.Name, fmt.Errorf("echo: %w", err))
		return
	}
	res.add(s.Name, mEchoP50, round, us(percentile(lat, 0.5)))
	res.add(s.Name, mEchoP99, round, us(percentile(lat, 0.99)))
	fmt.Fprintf(os.Stderr, "  %s echo p50 %.0f µs p99 %.0f µs; login prompt %.2f ms, shell prompt %.2f ms\n", s.Name,
		us(percentile(lat, 0.5)), us(percentile(lat, 0.99)), ms(percentile(toLogin, 0.5)), ms(percentile(toShell, 0.5)))
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
func us(d time.Duration) float64 { return float64(d) / 1e3 }

// concResult is the concurrency test's figures for one server.
type concResult struct {
	Want, OK, Failed int
	Skipped          int           // not attempted: out of budget, or the server failed most
	Elapsed          time.Duration // to open them all (or give up)
	// Memory before the sessions and with them all open: the daemon's own
	// processes, and the rest of its tree (login programs and shells).
	DaemonBase, DaemonAt, SessionsAt memory
	DaemonProcs, SessionProcs        int
	EchoP50, EchoP99                 float64 // µs, on one session with all open; -1: not measured
	// Answered: sessions that ran a command with all open (answerAll).
	Answered int
	// Died: the daemon's process was gone after the logons.
	Died bool
	// Teardown is the time from closing every connection to the last
	// session process gone (or the 2-minute bound); -1: not measured.
	Teardown time.Duration
}

// concurrency opens up to o.conc sessions at once (o.concParallel logons in
// flight), measures memory with them all open and the echo latency of one
// of them, then closes them and waits for the server's tree to shrink back.
func concurrency(o *options, res *results, s *server) *concResult {
	fmt.Fprintf(os.Stderr, "concurrency %s: %d sessions\n", s.Name, o.conc)
	c := &concResult{Want: o.conc, EchoP50: -1, EchoP99: -1, Teardown: -1}
	baseProcs := len(tree(readProcs(), s.PID))
	c.DaemonBase, _, _, _ = treeMemory(s.PID, s.Daemon)

	budget := o.concBudget
	if budget == 0 {
		budget = 60*time.Second + time.Duration(o.conc)*60*time.Millisecond
	}
	start := time.Now()
	stopAt := start.Add(budget)
	var (
		mu       sync.Mutex
		sessions []*tconn
		wg       sync.WaitGroup
	)
	jobs := make(chan int)
	for range o.concParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				left := time.Until(stopAt)
				mu.Lock()
				// A server that fails most logons has shown how far it
				// goes: stop there rather than spend the whole budget.
				giveUp := c.Failed >= 100 && c.Failed > 2*len(sessions)
				if left <= 0 || giveUp {
					c.Skipped++
					mu.Unlock()
					continue
				}
				mu.Unlock()
				// One loopback source address per client, as if each
				// came from its own machine.
				src := fmt.Sprintf("127.1.%d.%d", k/200, k%200+1)
				t, _, _, err := logon(s.Addr, src, o.user, o.password, min(left, 30*time.Second))
				mu.Lock()
				if err != nil {
					c.Failed++
					if c.Failed <= 3 {
						res.fail(s.Name, fmt.Errorf("concurrency logon: %w", err))
					}
				} else {
					sessions = append(sessions, t)
				}
				mu.Unlock()
			}
		}()
	}
	for k := range o.conc {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	c.Elapsed = time.Since(start)
	c.OK = len(sessions)
	fmt.Fprintf(os.Stderr, "  %s: %d of %d logged on in %v (%d failed, %d not tried)\n", s.Name, c.OK, c.Want, c.Elapsed.Round(time.Millisecond), c.Failed, c.Skipped)

	if p := readStat(s.PID); p == nil || p.state == 'Z' {
		c.Died = true
		res.fail(s.Name, fmt.Errorf("the daemon (PID %d) died during the concurrency test, with %d sessions logged on", s.PID, c.OK))
	}
	if c.OK > 0 && !c.Died {
		// Let logons' garbage and page faults settle.
		time.Sleep(3 * time.Second)
		c.DaemonAt, c.SessionsAt, c.DaemonProcs, c.SessionProcs = treeMemory(s.PID, s.Daemon)
		if c.DaemonProcs == 0 {
			res.fail(s.Name, fmt.Errorf("no process named %v in the tree of PID %d", s.Daemon, s.PID))
		}
		lat, err := sessions[0].echoLatency(o.echo, time.Minute)
		if err != nil {
			res.fail(s.Name, fmt.Errorf("echo with %d open: %w", c.OK, err))
		} else {
			c.EchoP50, c.EchoP99 = us(percentile(lat, 0.5)), us(percentile(lat, 0.99))
		}
	}
	if o.answerAll && !c.Died {
		c.Answered = answerAll(sessions, o.concParallel)
		fmt.Fprintf(os.Stderr, "  %s: %d of %d sessions answered a command\n", s.Name, c.Answered, c.OK)
	}
	time.Sleep(o.hold) // for looking at the server from outside
	closed := time.Now()
	for _, t := range sessions {
		t.Close()
	}
	if c.Died {
		return c
	}
	// Wait (bounded) for every session's processes to go, so the next
	// server is measured on a quiet machine.
	deadline := closed.Add(2 * time.Minute)
	for len(tree(readProcs(), s.PID)) > baseProcs && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c.Teardown = time.Since(closed)
	fmt.Fprintf(os.Stderr, "  %s: all session processes gone %v after the clients closed\n", s.Name, c.Teardown.Round(time.Millisecond))
	if n := len(tree(readProcs(), s.PID)); n > baseProcs {
		res.fail(s.Name, errors.New("session processes still present 2 minutes after the concurrency test"))
	}
	return c
}

// answerAll has every session run a command (parallel at a time) and
// returns how many answered it within 30 s.
func answerAll(sessions []*tconn, parallel int) int {
	var answered atomic.Int64
	jobs := make(chan *tconn)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				if _, _, err := t.command("true", 30*time.Second); err == nil {
					answered.Add(1)
				}
			}
		}()
	}
	for _, t := range sessions {
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	return int(answered.Load())
}
