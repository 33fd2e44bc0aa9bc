package protocol

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// Transcripts (testdata/transcripts/*.txt) are byte-exact, hand-written
// conversations between the engine and a real client's behaviour. One
// directive a line:
//
//	# comment                  ignored, as are blank lines
//	known NAME...              KnownTerm accepts these names (else nil)
//	allow NAME...              EnvAllowed accepts these names; NAME* is a prefix
//	< TOKENS                   the server sent exactly these bytes next
//	> TOKENS                   the client sends these bytes
//	= TOKENS                   the application received these data bytes next
//	! COMMAND                  the application was handed this command next
//	                           (IP, AO, ...; DM: a Synch ended)
//	session                    the session starts: NVT commands are handed
//	                           to the application from here on
//	urgent                     urgent data (a Synch) is pending when the
//	                           client's next bytes are read
//	? term [NAME]              the chosen terminal type ("" without NAME)
//	? termtypes NAME...        every type the client reported, in order
//	? env [K=V...]             the kept environment, exactly
//	? size COLS ROWS | none    the window size
//	? speed TX RX | none       the terminal speeds from TSPEED
//	? charset NAME | none      the character set agreed
//	? negotiating yes|no       whether an answer is still outstanding
//	? logout yes|no            whether we agreed to log the client out
//	? synch yes|no             whether data is being discarded for a Synch
//	? us|him OPTION STATE      one side of an option (NO, YES, WANTNO, WANTYES)
//	repeat N ... end           the enclosed lines, N times
//
// The conversation starts with the engine's start() output. Everything the
// server sends must be matched by '<' lines before the client's next '>'
// line and at the end; all data and commands must be matched by '=' and
// '!' lines by the end. After a logout, the client's bytes are not read.
//
// Tokens (the wire syntax, also used by the other tests):
//
//	IAC WILL SB NOP AYT ...    Telnet commands (CommandName)
//	ECHO TTYPE NEW-ENVIRON ... options, right after WILL/WONT/DO/DONT/SB (OptionName);
//	                           IAC there is 255, as in IAC SB IAC SE
//	IS SEND INFO               subnegotiation verbs (TTYPE, NEW-ENVIRON, ...)
//	VAR VALUE ESC USERVAR      NEW-ENVIRON type bytes
//	OFF ON RESTART-ANY ...     LFLOW commands
//	REQUEST ACCEPTED ...       CHARSET messages
//	CR LF NUL ESCAPE           13, 10, 0, 27
//	"text"                     a Go string literal; "text"*N repeats it N times
//	0xNN, 123                  one byte

var (
	commandByName = reverse(commandNames)
	optionByName  = reverse(optionNames)
	keywordBytes  = map[string]byte{
		"IS": sbIS, "SEND": sbSEND, "INFO": sbINFO,
		"VAR": envVAR, "VALUE": envVALUE, "ESC": envESC, "USERVAR": envUSERVAR,
		"OFF": lflowOFF, "ON": lflowON, "RESTART-ANY": lflowRestartAny, "RESTART-XON": lflowRestartXON,
		"REQUEST": csREQUEST, "ACCEPTED": csACCEPTED, "REJECTED": csREJECTED, "TTABLE-IS": csTTableIS,
		"CR": '\r', "LF": '\n', "NUL": 0, "ESCAPE": 0x1b,
	}
)

func reverse(m map[byte]string) map[string]byte {
	r := make(map[string]byte, len(m))
	for b, n := range m {
		r[n] = b
	}
	return r
}

// parseWire turns tokens into bytes.
func parseWire(s string) ([]byte, error) {
	var out []byte
	optionNext := false
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			lit, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("bad string at %q: %w", s, err)
			}
			str, _ := strconv.Unquote(lit)
			s = s[len(lit):]
			n := 1
			if strings.HasPrefix(s, "*") {
				end := strings.IndexFunc(s, unicode.IsSpace)
				if end < 0 {
					end = len(s)
				}
				if n, err = strconv.Atoi(s[1:end]); err != nil || n < 0 {
					return nil, fmt.Errorf("bad repeat count %q", s[:end])
				}
				s = s[end:]
			}
			out = append(out, strings.Repeat(str, n)...)
			optionNext = false
			continue
		}
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		word := s[:end]
		s = s[end:]
		b, err := wireToken(word, optionNext)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		_, isCmd := commandByName[word]
		optionNext = !optionNext && isCmd && (b == WILL || b == WONT || b == DO || b == DONT || b == SB)
	}
}

func wireToken(word string, optionNext bool) (byte, error) {
	if h, ok := strings.CutPrefix(word, "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 8)
		if err != nil {
			return 0, fmt.Errorf("bad byte %q", word)
		}
		return byte(v), nil
	}
	if word[0] >= '0' && word[0] <= '9' {
		v, err := strconv.ParseUint(word, 10, 8)
		if err != nil {
			return 0, fmt.Errorf("bad byte %q", word)
		}
		return byte(v), nil
	}
	if optionNext {
		if b, ok := optionByName[word]; ok {
			return b, nil
		}
		if word == "IAC" { // IAC SB IAC SE: an empty subnegotiation
			return IAC, nil
		}
		return 0, fmt.Errorf("unknown option %q", word)
	}
	if b, ok := commandByName[word]; ok {
		return b, nil
	}
	if b, ok := keywordBytes[word]; ok {
		return b, nil
	}
	return 0, fmt.Errorf("unknown token %q", word)
}

// wire is parseWire for literals in tests.
func wire(t testing.TB, s string) []byte {
	t.Helper()
	b, err := parseWire(s)
	if err != nil {
		t.Fatalf("wire(%q): %v", s, err)
	}
	return b
}

// formatWire renders bytes in the token syntax, for failure messages.
func formatWire(b []byte) string {
	var parts []string
	var text []byte
	flush := func() {
		if len(text) > 0 {
			parts = append(parts, strconv.Quote(string(text)))
			text = text[:0]
		}
	}
	afterIAC, optionNext, sbOption, verbNext := false, false, false, false
	inStatus := false // inside SB STATUS: WILL and DO name options
	for _, c := range b {
		switch {
		case optionNext:
			flush()
			parts = append(parts, OptionName(c))
			verbNext = sbOption && (c == OptTTYPE || c == OptNewEnviron || c == OptOldEnviron ||
				c == OptStatus || c == OptTSpeed || c == OptXDispLoc)
			if sbOption {
				inStatus = c == OptStatus
			}
			optionNext, sbOption = false, false
		case inStatus && (c == WILL || c == WONT || c == DO || c == DONT):
			flush()
			parts = append(parts, CommandName(c))
			optionNext = true
		case verbNext && c <= sbINFO:
			parts = append(parts, [...]string{"IS", "SEND", "INFO"}[c])
			verbNext = false
		case afterIAC:
			parts = append(parts, CommandName(c))
			afterIAC = false
			optionNext = c == WILL || c == WONT || c == DO || c == DONT || c == SB
			sbOption = c == SB
		case c == IAC:
			verbNext, inStatus = false, false
			flush()
			parts = append(parts, "IAC")
			afterIAC = true
		case c >= 0x20 && c < 0x7f || c == '\r' || c == '\n':
			verbNext = false
			text = append(text, c)
		default:
			verbNext = false
			flush()
			parts = append(parts, fmt.Sprintf("0x%02x", c))
		}
	}
	flush()
	return strings.Join(parts, " ")
}

type tstep struct {
	line int
	kind string // "<", ">", "=", "!", "?", "session", "urgent", "repeat"
	data []byte
	args []string
	n    int
	body []tstep
}

type transcript struct {
	name  string
	known []string
	allow []string
	steps []tstep
}

func (tr *transcript) config() Config {
	var cfg Config
	if tr.known != nil {
		cfg.KnownTerm = func(n string) bool { return slices.Contains(tr.known, n) }
	}
	if tr.allow != nil {
		cfg.EnvAllowed = allowList(tr.allow...)
	}
	return cfg
}

// allowList mimics the daemon's accept_env: exact names and NAME* prefixes.
func allowList(names ...string) func(string) bool {
	return func(n string) bool {
		for _, a := range names {
			if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(n, p) || a == n {
				return true
			}
		}
		return false
	}
}

func loadTranscript(path string) (*transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := &transcript{name: filepath.Base(path)}
	stack := [][]tstep{nil}
	var repeats []tstep
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s", path, ln, fmt.Sprintf(format, a...))
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch word {
		case "known":
			tr.known = append([]string{}, strings.Fields(rest)...)
		case "allow":
			tr.allow = append([]string{}, strings.Fields(rest)...)
		case "<", ">", "=":
			b, err := parseWire(rest)
			if err != nil {
				return nil, fail("%v", err)
			}
			stack[len(stack)-1] = append(stack[len(stack)-1], tstep{line: ln, kind: word, data: b})
		case "!":
			b, ok := commandByName[rest]
			if !ok {
				return nil, fail("unknown command %q", rest)
			}
			stack[len(stack)-1] = append(stack[len(stack)-1], tstep{line: ln, kind: word, data: []byte{IAC, b}})
		case "session", "urgent":
			stack[len(stack)-1] = append(stack[len(stack)-1], tstep{line: ln, kind: word})
		case "?":
			f := strings.Fields(rest)
			if len(f) == 0 {
				return nil, fail("empty check")
			}
			stack[len(stack)-1] = append(stack[len(stack)-1], tstep{line: ln, kind: word, args: f})
		case "repeat":
			n, err := strconv.Atoi(rest)
			if err != nil || n < 1 {
				return nil, fail("bad repeat count %q", rest)
			}
			repeats = append(repeats, tstep{line: ln, kind: "repeat", n: n})
			stack = append(stack, nil)
		case "end":
			if len(repeats) == 0 {
				return nil, fail("end without repeat")
			}
			r := repeats[len(repeats)-1]
			repeats = repeats[:len(repeats)-1]
			r.body = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			stack[len(stack)-1] = append(stack[len(stack)-1], r)
		default:
			return nil, fail("unknown directive %q", word)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(repeats) > 0 {
		return nil, fmt.Errorf("%s:%d: repeat without end", path, repeats[0].line)
	}
	tr.steps = stack[0]
	return tr, nil
}

// splitter cuts one client write into the feeds the engine sees.
type splitter func(p []byte) [][]byte

func wholeFeeds(p []byte) [][]byte { return [][]byte{p} }

func byteFeeds(p []byte) [][]byte {
	var out [][]byte
	for i := range p {
		out = append(out, p[i:i+1])
	}
	return out
}

func randomFeeds(r *rand.Rand) splitter {
	return func(p []byte) [][]byte {
		var out [][]byte
		for len(p) > 0 {
			n := 1 + r.IntN(min(len(p), 7))
			out = append(out, p[:n])
			p = p[n:]
		}
		return out
	}
}

// clientBytes returns everything the client sends, with each repeat block
// at most maxRepeat times.
func (tr *transcript) clientBytes(maxRepeat int) []byte {
	var out []byte
	var walk func([]tstep)
	walk = func(steps []tstep) {
		for _, s := range steps {
			switch s.kind {
			case ">":
				out = append(out, s.data...)
			case "repeat":
				for range min(s.n, maxRepeat) {
					walk(s.body)
				}
			}
		}
	}
	walk(tr.steps)
	return out
}

type transcriptRun struct {
	t       *testing.T
	tr      *transcript
	e       *engine
	split   splitter
	started bool
	out     []byte // server output not yet matched
	data    []byte // application data and commands not yet matched (appStream's form)
	feeds   int
}

func (r *transcriptRun) fail(s tstep, format string, a ...any) {
	r.t.Helper()
	r.t.Fatalf("%s:%d: %s", r.tr.name, s.line, fmt.Sprintf(format, a...))
}

func (r *transcriptRun) run(steps []tstep) {
	r.t.Helper()
	for _, s := range steps {
		if !r.started && s.kind != "repeat" {
			r.started = true
			r.out = append(r.out, r.e.start()...)
		}
		switch s.kind {
		case ">":
			if len(r.out) > 0 {
				r.fail(s, "server output not in the transcript before this line: %s", formatWire(r.out))
			}
			for _, chunk := range r.split(s.data) {
				d, o := appStream(r.e, chunk)
				r.feeds++
				r.data = append(r.data, d...)
				r.out = append(r.out, o...)
			}
		case "session":
			handleCommands(r.e)
		case "urgent":
			r.e.discardToMark()
		case "!":
			if !bytes.HasPrefix(r.data, s.data) {
				r.fail(s, "application got\n\t%s\nwant the command\n\t%s", formatWire(r.data), formatWire(s.data))
			}
			r.data = r.data[len(s.data):]
		case "<":
			if !bytes.HasPrefix(r.out, s.data) {
				r.fail(s, "server sent\n\t%s\nwant\n\t%s", formatWire(r.out), formatWire(s.data))
			}
			r.out = r.out[len(s.data):]
		case "=":
			want := AppendEscaped(nil, s.data)
			if !bytes.HasPrefix(r.data, want) {
				r.fail(s, "application got\n\t%s\nwant\n\t%s", formatWire(r.data), formatWire(want))
			}
			r.data = r.data[len(want):]
		case "?":
			r.check(s)
		case "repeat":
			for range s.n {
				r.run(s.body)
			}
		}
	}
}

func (r *transcriptRun) check(s tstep) {
	r.t.Helper()
	e := r.e
	what, args := s.args[0], s.args[1:]
	switch what {
	case "term":
		want := strings.Join(args, " ")
		if got := e.term(); got != want {
			r.fail(s, "term = %q, want %q", got, want)
		}
	case "termtypes":
		if !slices.Equal(e.termTypes, args) && len(e.termTypes)+len(args) > 0 {
			r.fail(s, "termTypes = %q, want %q", e.termTypes, args)
		}
	case "env":
		want := map[string]string{}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			want[k] = v
		}
		if !maps.Equal(e.env, want) {
			r.fail(s, "env = %q, want %q", e.env, want)
		}
	case "size":
		got := "none"
		if e.cols > 0 {
			got = fmt.Sprintf("%d %d", e.cols, e.rows)
		}
		if want := strings.Join(args, " "); got != want {
			r.fail(s, "size = %s, want %s", got, want)
		}
	case "negotiating", "logout", "synch":
		got := map[string]bool{"negotiating": e.negotiating(), "logout": e.ended == OptLogout, "synch": e.synch}[what]
		if want := strings.Join(args, " "); yesNo(got) != want {
			r.fail(s, "%s = %s, want %s", what, yesNo(got), want)
		}
	case "speed":
		got := "none"
		if e.txSpeed > 0 {
			got = fmt.Sprintf("%d %d", e.txSpeed, e.rxSpeed)
		}
		if want := strings.Join(args, " "); got != want {
			r.fail(s, "speed = %s, want %s", got, want)
		}
	case "charset":
		got := e.charset
		if got == "" {
			got = "none"
		}
		if want := strings.Join(args, " "); got != want {
			r.fail(s, "charset = %s, want %s", got, want)
		}
	case "us", "him":
		if len(args) != 2 {
			r.fail(s, "want: ? %s OPTION STATE", what)
		}
		opt, ok := optionByName[args[0]]
		if !ok {
			r.fail(s, "unknown option %q", args[0])
		}
		q := e.us[opt]
		if what == "him" {
			q = e.him[opt]
		}
		if q.state.String() != args[1] {
			r.fail(s, "%s %s = %v, want %s", what, args[0], q.state, args[1])
		}
	default:
		r.fail(s, "unknown check %q", what)
	}
}

func yesNo(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }

func transcriptFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "transcripts", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	return files
}

func TestTranscripts(t *testing.T) {
	for _, path := range transcriptFiles(t) {
		tr, err := loadTranscript(path)
		if err != nil {
			t.Fatal(err)
		}
		splits := map[string]splitter{
			"whole":  wholeFeeds,
			"bytes":  byteFeeds,
			"random": randomFeeds(rand.New(rand.NewPCG(1, uint64(len(path))))),
		}
		for _, mode := range []string{"whole", "bytes", "random"} {
			t.Run(strings.TrimSuffix(tr.name, ".txt")+"/"+mode, func(t *testing.T) {
				r := &transcriptRun{t: t, tr: tr, e: newEngine(tr.config()), split: splits[mode]}
				r.run(tr.steps)
				if !r.started {
					t.Fatal("empty transcript")
				}
				if len(r.out) > 0 {
					t.Errorf("%s: server output not in the transcript at the end: %s", tr.name, formatWire(r.out))
				}
				if len(r.data) > 0 {
					t.Errorf("%s: application data or commands not in the transcript at the end: %s", tr.name, formatWire(r.data))
				}
			})
		}
	}
}

func TestParseWire(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
	}{
		{`IAC WILL ECHO`, []byte{255, 251, 1}},
		{`IAC EOR IAC WILL EOR`, []byte{255, 239, 255, 251, 25}},
		{`IAC SB NEW-ENVIRON IS VAR "USER" VALUE "x" IAC SE`,
			[]byte{255, 250, 39, 0, 0, 'U', 'S', 'E', 'R', 1, 'x', 255, 240}},
		{`"a b" 0x0d 10 NUL`, []byte{'a', ' ', 'b', 13, 10, 0}},
		{`"ab"*3 "\r\n"`, []byte("ababab\r\n")},
		{`IAC DO 200`, []byte{255, 253, 200}},
		{``, nil},
	}
	for _, tt := range tests {
		got, err := parseWire(tt.in)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("parseWire(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`IAC WILL NOSUCH`, `FOO`, `0x100`, `256`, `"open`, `"a"*x`} {
		if _, err := parseWire(bad); err == nil {
			t.Errorf("parseWire(%q) accepted", bad)
		}
	}
	// formatWire is the inverse for what the transcripts use.
	for _, s := range []string{
		`IAC WILL ECHO IAC SB TTYPE SEND IAC SE`,
		`IAC SB NEW-ENVIRON IS VAR "A" VALUE "b" IAC SE IAC EOR`,
		`"hi\r\n" IAC IAC 0x00`,
	} {
		b := wire(t, s)
		if back := wire(t, formatWire(b)); !bytes.Equal(back, b) {
			t.Errorf("formatWire round trip of %q: %q", s, formatWire(b))
		}
	}
}
