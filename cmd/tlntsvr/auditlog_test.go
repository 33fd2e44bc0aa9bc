package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Records written while the file is renamed and reopened, again and again,
// each land whole in exactly one file, none lost.
func TestAuditFileReopenUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, err := openAuditFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := slog.New(slog.NewJSONHandler(f, nil))

	const writers, each, rotations = 8, 200, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				log.Info("record", "id", fmt.Sprintf("w%d-%d", w, i))
			}
		}()
	}
	for r := range rotations {
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, r)); err != nil {
			t.Fatal(err)
		}
		if err := f.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()

	seen := map[string]int{}
	files, _ := filepath.Glob(path + "*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if line == "" {
				continue
			}
			i := strings.Index(line, `"id":"`)
			if i < 0 || !strings.HasSuffix(line, `"}`) {
				t.Fatalf("%s: broken record %q", p, line)
			}
			seen[strings.TrimSuffix(line[i+6:], `"}`)]++
		}
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records, want %d", len(seen), writers*each)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("record %s written %d times", id, n)
		}
	}
}

// A reopen that fails leaves the records going to the open file.
func TestAuditFileReopenFails(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "audit.log")
	f, err := openAuditFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sub, moved); err != nil { // the directory is gone
		t.Fatal(err)
	}
	if err := f.Reopen(); err == nil {
		t.Fatal("reopen into a missing directory succeeded")
	}
	if _, err := f.Write([]byte("still here\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(moved, "audit.log")); string(b) != "still here\n" {
		t.Errorf("old file has %q", b)
	}
}

// A name typed before logon reaches the audit file with its terminal
// controls and bidi overrides escaped, not raw (issue 16 item 4).
func TestAuditEscapesNetworkStrings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	audit, f, err := openAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	audit.With("remote", "10.0.0.1:2323").Warn("logon failed", "event", "logon_failed",
		"user", "ad\u009b2Jmin\u202etxt.exe", "term", "vt100\x1b]0;x\x07", "env", []string{"LANG=\xff"})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"\xc2\x9b", "\u202e", "\xff", "\\u001b", "\\u0007"} {
		if strings.Contains(string(data), raw) {
			t.Errorf("audit record holds %q: %s", raw, data)
		}
	}
	if !strings.Contains(string(data), `"user":"ad\\u009b2Jmin\\u202etxt.exe"`) {
		t.Errorf("user not escaped as expected: %s", data)
	}
}
