package recording

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// readCast parses a recording: its header and its events.
func readCast(t *testing.T, path string) (map[string]any, [][]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var hdr map[string]any
	var evs [][]any
	for i := 0; sc.Scan(); i++ {
		if i == 0 {
			if err := json.Unmarshal(sc.Bytes(), &hdr); err != nil {
				t.Fatalf("header %q: %v", sc.Text(), err)
			}
			continue
		}
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("line %d %q: %v", i+1, sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return hdr, evs
}

func testOptions(t *testing.T) Options {
	return Options{
		Dir: filepath.Join(t.TempDir(), "rec"), MaxBytes: 1 << 20, Session: 7, User: "alice",
		OSAccount: "osalice", Remote: "127.0.0.1:4000", Term: "xterm", Cols: 100, Rows: 30,
		Start: time.Date(2026, 12, 3, 4, 5, 6, 0, time.Local),
	}
}

func TestRecordingFile(t *testing.T) {
	o := testOptions(t)
	r, err := Create(o)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(o.Dir, "2026-12-03", "7-alice-040506.cast")
	if r.Path() != want {
		t.Errorf("path %s, want %s", r.Path(), want)
	}
	r.Output([]byte("hi \"there\"\\\r\n\x1b[1m"))
	r.Output([]byte("caf\xc3")) // é cut in two
	r.Output([]byte("\xa9 \xff\xfe ok"))
	r.Input([]byte("ls\r"))
	r.Resize(120, 40)
	r.Close()

	for _, p := range []string{o.Dir, filepath.Dir(want)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want mode 0700", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want mode 0600", want, fi.Mode(), err)
	}
	hdr, evs := readCast(t, want)
	if hdr["version"] != 2.0 || hdr["width"] != 100.0 || hdr["height"] != 30.0 ||
		hdr["env"].(map[string]any)["TERM"] != "xterm" || !strings.Contains(hdr["title"].(string), "alice (OS account osalice) from 127.0.0.1:4000") {
		t.Errorf("header %v", hdr)
	}
	var out, in, resize string
	for _, ev := range evs {
		switch ev[1] {
		case "o":
			out += ev[2].(string)
		case "i":
			in += ev[2].(string)
		case "r":
			resize += ev[2].(string)
		}
	}
	if want := "hi \"there\"\\\r\n\x1b[1mcafé \uFFFD\uFFFD ok"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if in != "ls\r" || resize != "120x40" {
		t.Errorf("input %q, resize %q", in, resize)
	}
	// A second session with the same ID, user and second (after a
	// restart) gets a file of its own.
	r2, err := Create(o)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	if !strings.HasSuffix(r2.Path(), "7-alice-040506-2.cast") {
		t.Errorf("second file %s", r2.Path())
	}
}

func TestRecordingMaxBytes(t *testing.T) {
	o := testOptions(t)
	o.MaxBytes = 8192
	stopped := make(chan string, 1)
	o.Stopped = func(w string) { stopped <- w } // from a goroutine of its own: may come after Close
	r, err := Create(o)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 200 {
		r.Output(line)
	}
	r.Close()
	fi, err := os.Stat(r.Path())
	if err != nil || fi.Size() > o.MaxBytes {
		t.Fatalf("file %v, %v; want at most %d bytes", fi.Size(), err, o.MaxBytes)
	}
	_, evs := readCast(t, r.Path())
	last := evs[len(evs)-1]
	if last[1] != "m" || !strings.Contains(last[2].(string), "max_bytes") {
		t.Errorf("last event %v, want the max_bytes marker", last)
	}
	select {
	case w := <-stopped:
		if !strings.Contains(w, "max_bytes") {
			t.Errorf("Stopped told %q", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stopped not told")
	}
}

func TestRecordingStall(t *testing.T) {
	defer func(d time.Duration) { stallLimit = d }(stallLimit)
	stallLimit = 50 * time.Millisecond
	o := testOptions(t)
	stopped := make(chan string, 1)
	o.Stopped = func(w string) { stopped <- w }
	// A disk that does not come back: a pipe nobody reads.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := start(pw, "pipe", o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pr.Close() // the stuck write fails, and the writer ends
	chunk := make([]byte, 32<<10)
	for range 2 * (pendCap + 64<<10) / len(chunk) {
		r.Output(chunk)
	}
	start := time.Now()
	r.Output([]byte("more"))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Output waited %v", d)
	}
	select {
	case w := <-stopped:
		if !strings.Contains(w, "keep up") {
			t.Errorf("Stopped told %q", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not stopped")
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":             "plain",
		"a\x00b\x1b[0m\x7f": `a\u0000b\u001b[0m` + "\x7f",
		"\xff":              "\uFFFD",
		"\xe2\x82":          "\uFFFD\uFFFD",
		"€ and 😀":           "€ and 😀",
		"\xed\xa0\x80":      "\uFFFD\uFFFD\uFFFD", // a surrogate is not UTF-8
	} {
		got := string(appendString(nil, []byte(in)))
		if got != want {
			t.Errorf("appendString(%q) = %q, want %q", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+got+`"`), &back); err != nil {
			t.Errorf("%q: not a JSON string: %v", got, err)
		}
	}
}

// appendString agrees with encoding/json on random bytes: the same
// string once decoded (json replaces each invalid byte with U+FFFD too).
func TestAppendStringAsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab\"\\\x00\x1b\r\n\t\x7f\xff\xfe\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 0123456789")
	for range 2000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			s[i] = alphabet[r.IntN(len(alphabet))]
		}
		var got, want string
		if err := json.Unmarshal([]byte(`"`+string(appendString(nil, s))+`"`), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		ref, _ := json.Marshal(string(s))
		json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
	}
}

// FuzzAppendString: any bytes make a valid JSON string, which decodes to
// the bytes with each one that is not part of a valid UTF-8 character
// replaced by U+FFFD, and is written as refString writes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x00b\x1b[0m\x7f\"\\", "\xff\xfe", "\xe2\x82", "€ and 😀",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x9f\xbf", "12345678\xc3\xa9", "1234567\xc3\xa9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		got := appendString([]byte("prefix"), s)
		if string(got[:6]) != "prefix" {
			t.Fatalf("%q: the bytes before were changed: %q", s, got)
		}
		got = got[6:]
		if want := refString(s); string(got) != string(want) {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+string(got)+`"`), &back); err != nil {
			t.Fatalf("%q: %q is not a JSON string: %v", s, got, err)
		}
		if want := string([]rune(string(s))); back != want {
			t.Fatalf("%q: decodes to %q, want %q", s, back, want)
		}
	})
}

// refString is appendString written plainly, a character at a time.
func refString(s []byte) []byte {
	var b []byte
	for _, r := range string(s) { // an invalid byte is U+FFFD, one per byte
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// Output that comes in quick succession is one event, and the file says
// the same: what a replay shows does not change.
func TestOutputCoalesced(t *testing.T) {
	dir := t.TempDir()
	r, err := Create(Options{Dir: dir, MaxBytes: 1 << 20, Session: 1, User: "alice", Cols: 80, Rows: 24, Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		r.Output([]byte(fmt.Sprintf("line %d\r\n", i)))
	}
	r.Close()
	data, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var out strings.Builder
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out.WriteString(ev[2].(string))
	}
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "line %d\r\n", i)
	}
	if out.String() != want.String() {
		t.Errorf("replayed output differs:\n%q", out.String())
	}
	if events := len(lines) - 1; events > 10 {
		t.Errorf("%d events for 100 writes within a few µs, want them coalesced", events)
	}
}
