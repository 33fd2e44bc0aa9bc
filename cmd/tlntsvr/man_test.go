package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/manpage"
)

var update = flag.Bool("update", false, "rewrite the man pages in docs/man/man8 (make docs)")

// The man pages in docs/man/man8 are those the commands give now: a changed
// flag or help text fails here until "make docs" is run.
func TestManPages(t *testing.T) {
	t.Setenv("TLNTSVR_CONFIG", "") // the --config default shown must be the system one
	const dir = "../../docs/man/man8"
	if *update {
		if err := manpage.Generate(newRootCmd(), dir); err != nil {
			t.Fatal(err)
		}
	}
	diffs, err := manpage.Diff(newRootCmd(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("man pages in docs/man/man8 are not current; run make docs:\n%s", strings.Join(diffs, "\n"))
	}
}
