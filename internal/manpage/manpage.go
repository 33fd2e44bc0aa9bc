// Package manpage writes section 8 man pages from a cobra command tree
// (with cobra's doc package) and checks that checked-in pages are current.
// Only tests import it: the binaries do not carry the generator.
package manpage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Generate writes one page per available command of root into dir (as
// root.8, root-sub.8, ...), after removing the pages of root's tree already
// there, so a removed command loses its page.
func Generate(root *cobra.Command, dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, root.Name()+"*.8"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	disableAutoGenTag(root)
	header := &doc.GenManHeader{Section: "8", Source: "tlntsvr", Manual: "System Administration"}
	return doc.GenManTree(root, header, dir)
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// Diff generates root's pages into a temporary directory and compares them
// with those in dir, ignoring the .TH line (it holds the month they were
// made). It returns one line per page missing, extra or different.
func Diff(root *cobra.Command, dir string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "manpage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := Generate(root, tmp); err != nil {
		return nil, err
	}
	want, err := pages(tmp, root.Name())
	if err != nil {
		return nil, err
	}
	have, err := pages(dir, root.Name())
	if err != nil {
		return nil, err
	}
	var diffs []string
	for name, w := range want {
		h, ok := have[name]
		switch {
		case !ok:
			diffs = append(diffs, name+": missing")
		case !bytes.Equal(withoutTH(h), withoutTH(w)):
			diffs = append(diffs, name+": out of date")
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, name+": no such command any more")
		}
	}
	slices.Sort(diffs)
	return diffs, nil
}

func pages(dir, prefix string) (map[string][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, prefix+"*.8"))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, p := range paths {
		name := filepath.Base(p)
		// tlntsvr*.8 must not take tlntsvrx.8 of another tree.
		if rest := strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".8"); rest != "" && !strings.HasPrefix(rest, "-") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read man page: %w", err)
		}
		out[name] = b
	}
	return out, nil
}

func withoutTH(b []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(".TH ")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
