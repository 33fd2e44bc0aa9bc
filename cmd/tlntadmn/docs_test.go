package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/config"
)

// windowsNames are the Windows Tlntadmn config names tlntadmn translates,
// with values to try.
var windowsNames = map[string][]string{
	"timeout":       {"00:30:00"},
	"timeoutactive": {"yes", "no"},
	"maxfail":       {"5"},
	"maxconn":       {"5"},
	"port":          {"2323"},
	"mode":          {"console", "stream"},
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Windows column of docs/configuration.md says what tlntadmn does:
// each name given for a key is translated to that key, and every name
// tlntadmn translates is given.
func TestConfigurationDocWindowsNames(t *testing.T) {
	def := config.Default()
	var cur []admin.Setting
	for _, s := range def.Settings() {
		cur = append(cur, admin.Setting{Key: s.Key, Value: s.Value})
	}
	cur = setOf(cur, "idle_timeout", "0") // so timeoutactive=yes changes it
	row := regexp.MustCompile("^\\| `([a-z_.]+)` \\|(?:[^|]|\\\\\\|)*\\|(?:[^|]|\\\\\\|)*\\|(.*)\\|\\s*$")
	name := regexp.MustCompile("`([a-z]+)=")
	documented := map[string]bool{}
	for _, line := range strings.Split(readDoc(t, "configuration.md"), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[1]
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			documented[n[1]] = true
			values, ok := windowsNames[n[1]]
			if !ok {
				t.Errorf("%s: Windows name %q is not one tlntadmn translates", key, n[1])
				continue
			}
			for _, v := range values {
				got, err := translateWindows([]admin.Setting{{Key: n[1], Value: v}}, cur)
				if err != nil || len(got) != 1 || got[0].Key != key {
					t.Errorf("tlntadmn config %s=%s gives %v, %v; docs/configuration.md says it sets %s", n[1], v, got, err, key)
				}
			}
		}
	}
	for n := range windowsNames {
		if !documented[n] {
			t.Errorf("Windows name %s= is not in docs/configuration.md", n)
		}
	}
}

func setOf(in []admin.Setting, key, value string) []admin.Setting {
	for i := range in {
		if in[i].Key == key {
			in[i].Value = value
		}
	}
	return in
}

// docs/migrating-from-windows.md covers every Windows config name: those
// translated, and those refused, which tlntadmn refuses pointing at it.
func TestMigrationDocWindowsNames(t *testing.T) {
	doc := readDoc(t, "migrating-from-windows.md")
	for n := range windowsNames {
		if !strings.Contains(doc, "`"+n+"=") {
			t.Errorf("migrating-from-windows.md lacks %s=", n)
		}
	}
	for _, n := range windowsRefused {
		if !strings.Contains(doc, "`"+n+"=") {
			t.Errorf("migrating-from-windows.md lacks %s=", n)
		}
		_, err := translateWindows([]admin.Setting{{Key: n, Value: "x"}}, nil)
		if err == nil || !strings.Contains(err.Error(), "migrating-from-windows.md") {
			t.Errorf("tlntadmn config %s=x: %v; want a refusal that names the migration page", n, err)
		}
	}
}

// tlntadmn config --help lists every Windows name tlntadmn takes.
func TestConfigHelpWindowsNames(t *testing.T) {
	long := NewCmdConfig(&Factory{}, nil).Long
	for n := range windowsNames {
		if !strings.Contains(long, "\n  "+n+"=") {
			t.Errorf("tlntadmn config --help lacks %s=", n)
		}
	}
}
