package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/server"
)

// docRow is one row of the summary table of docs/configuration.md.
type docRow struct {
	key, def, applies, windows string
}

// configDocRows reads the summary table: the rows whose first cell is a
// code span. Cells are split at "|" not escaped as "\|".
func configDocRows(t *testing.T) []docRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := splitRow(line)
		if len(cells) != 4 {
			t.Fatalf("table row with %d cells, want 4: %s", len(cells), line)
		}
		rows = append(rows, docRow{unquote(cells[0]), unquote(cells[1]), cells[2], cells[3]})
	}
	return rows
}

func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func unquote(cell string) string {
	return strings.TrimSuffix(strings.TrimPrefix(cell, "`"), "`")
}

// docs/configuration.md lists every key, in the file's order, with its
// default and whether it applies live or at restart: it cannot drift from
// the code.
func TestConfigurationDoc(t *testing.T) {
	rows := configDocRows(t)
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.key)
	}
	if want := config.Keys(); !slices.Equal(keys, want) {
		t.Errorf("docs/configuration.md keys:\n%v\nconfig.Keys():\n%v", keys, want)
	}

	def := config.Default()
	defaults := map[string]string{}
	for _, s := range def.Settings() {
		defaults[s.Key] = s.Value
	}
	restart := server.RestartKeys()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		// The documented default, set on the defaults, changes nothing
		// (60s and 1m are the same duration).
		c := def.Clone()
		if err := c.Set(r.key, r.def); err != nil {
			t.Errorf("%s: documented default %q: %v", r.key, r.def, err)
			continue
		}
		for _, s := range c.Settings() {
			if s.Key == r.key && s.Value != defaults[r.key] {
				t.Errorf("%s: documented default %q, the code's is %q", r.key, r.def, defaults[r.key])
			}
		}
		top, _, _ := strings.Cut(r.key, ".")
		want := "live"
		if slices.Contains(restart, top) {
			want = "restart"
		}
		if r.applies != want {
			t.Errorf("%s: documented to apply %q, the daemon applies it %q", r.key, r.applies, want)
		}
		if !strings.Contains(string(doc), "\n### "+top+"\n") {
			t.Errorf("%s: no section ### %s", r.key, top)
		}
	}
}
