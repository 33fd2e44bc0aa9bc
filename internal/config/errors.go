package config

import (
	"strconv"
	"strings"
)

// FieldError is one problem found in a configuration file.
type FieldError struct {
	File string // the file's path as given to Load or Parse ("" if none)
	Line int    // 1-based line of the offending key or value; 0 if unknown
	Key  string // the setting, e.g. "max_connections" or "lockout.window"; "" for file-level problems
	Msg  string // what is wrong and what is accepted
}

// Error formats the problem as "FILE:LINE: KEY: MSG", the form editors and
// compilers use, leaving out the line when it is unknown and the key when the
// problem is not about one setting.
func (e FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration, in file order. Load,
// Parse and Set return it (as error) so that a user fixes a file in one pass
// instead of one error per run.
type Errors []FieldError

// Error joins the problems with newlines.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
