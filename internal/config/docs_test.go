package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the settings table of docs/configuration.md from the schema (make docs)")

const configDocPath = "../../docs/configuration.md"

// docTable is the summary table of docs/configuration.md, made from the
// schema: every key, its default, when it applies, its Windows names.
func docTable() []string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	lines := []string{"| Key | Default | Applies | Windows |", "| --- | --- | --- | --- |"}
	eachField(func(key string, f *field) {
		applies := "live"
		if f.rules&restart != 0 {
			applies = "restart"
		}
		line := fmt.Sprintf("| `%s` | `%s` | %s |", key, cell(f.def), applies)
		var names []string
		for _, w := range f.aliases {
			if w.use != "" {
				names = append(names, strings.TrimSpace("`"+cell(w.use)+"` "+w.note))
			}
		}
		if len(names) > 0 {
			line += " " + strings.Join(names, ", ")
		}
		lines = append(lines, line+" |")
	})
	return lines
}

// The table of docs/configuration.md is the schema's (make docs writes
// it), and every key has a section there.
func TestConfigurationDoc(t *testing.T) {
	b, err := os.ReadFile(configDocPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "| Key |") {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("%s has no table starting | Key |", configDocPath)
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	want := docTable()
	if *update {
		lines = append(lines[:start], append(want, lines[end:]...)...)
		if err := os.WriteFile(configDocPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		end = start + len(want)
	}
	if got := lines[start:end]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the table of %s is not the schema's; run make docs. It is:\n%s\nThe schema's:\n%s",
			configDocPath, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range fields {
		if !strings.Contains(string(b), "\n### "+f.key+"\n") {
			t.Errorf("%s: no section ### %s", configDocPath, f.key)
		}
	}
}

// configs/tlntsvr.yaml sets every key, in the schema's order, to the
// schema's default, written as the schema writes it, and its comment
// ends by saying so.
func TestExampleConfigDefaults(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	at := 0
	for _, f := range fields {
		want := []string{f.key + ": " + f.def}
		if f.sub != nil {
			want = []string{f.key + ":"}
			for _, s := range f.sub {
				want = append(want, "  "+s.key+": "+s.def)
			}
		}
		i := at
		for i < len(lines) && lines[i] != want[0] {
			i++
		}
		if i+len(want) > len(lines) || strings.Join(lines[i:i+len(want)], "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: after line %d, want\n%s", examplePath, at, strings.Join(want, "\n"))
			continue
		}
		var comment []string
		for j := i - 1; j >= 0 && strings.HasPrefix(lines[j], "#"); j-- {
			comment = append([]string{strings.TrimSpace(strings.TrimPrefix(lines[j], "#"))}, comment...)
		}
		if c := strings.Join(comment, " "); !strings.HasSuffix(c, "Default "+f.def+".") {
			t.Errorf("%s:%d: the comment of %s does not end with \"Default %s.\": %q", examplePath, i+1, f.key, f.def, c)
		}
		at = i + len(want)
	}
}
