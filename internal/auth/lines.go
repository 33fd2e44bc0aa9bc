package auth

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// MaxFileSize caps the users and groups files: they are read whole.
const MaxFileSize = 16 << 20

const (
	maxUsersLine  = 4 << 10 // name:hash:account is under 200 bytes
	maxGroupsLine = 1 << 20 // a group line lists members
)

// ParseError is a problem on one line of a users or groups file.
type ParseError struct {
	File string // the path given to the parser
	Line int    // 1-based; 0 when the problem is with the whole file
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// readLines reads r whole (at most MaxFileSize bytes) and returns its
// lines without their line ends (LF or CR LF). A final line without a line
// end counts; an empty input has no lines.
func readLines(r io.Reader, path string, maxLine int) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, &ParseError{File: path, Msg: fmt.Sprintf("file is larger than %d MiB", MaxFileSize>>20)}
	}
	var lines []string
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > maxLine {
			return nil, &ParseError{File: path, Line: n, Msg: fmt.Sprintf("line is longer than %d bytes", maxLine)}
		}
		lines = append(lines, string(line))
	}
	return lines, nil
}

// isIgnored reports whether a (trimmed) line is blank or a comment.
func isIgnored(line string) bool {
	return line == "" || line[0] == '#'
}

// trimLine strips the blanks Apache's config reader strips around a line.
func trimLine(line string) string {
	return strings.Trim(line, " \t\r\f\v")
}
