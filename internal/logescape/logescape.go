// Package logescape keeps what a remote peer sent from acting on whoever
// reads the logs. A login name, a terminal type or an environment value
// can carry terminal controls (ESC, the C1 CSI U+009B), bidi overrides
// (U+202E) or bytes that are not UTF-8; written raw, they redraw the
// reader's terminal or make a record read differently from what it holds.
//
// The escape is done by a slog.Handler that wraps the real one, so every
// string in every record is escaped whichever call site logged it.
package logescape

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with every character a reader's terminal or text view
// would act on rather than show written as an escape: C0 controls and DEL
// as \xNN (\t, \n and \r by name), C1 controls, format characters
// (Unicode category Cf: bidi overrides and isolates, zero-width
// characters) and the line and paragraph separators as \uNNNN, bytes that
// are not UTF-8 as \xNN, and the backslash itself as \\ so that an escape
// cannot be forged by typing one. s is returned as it is when it needs
// none, without allocating.
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c < 0x20 || c == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, c)
			default:
				b.WriteByte(c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, c)
		case unsafeRune(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstUnsafe returns the index of the first byte of s that String
// escapes, or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unsafeRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// unsafeRune reports whether r, at or above U+0080, is escaped: a C1
// control, a format character, or a line or paragraph separator.
func unsafeRune(r rune) bool {
	return r <= 0x9f || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r)
}

// Handler escapes, with String, the message, every key and every string
// value of each record (groups, errors, []string and Stringers included;
// a json.Marshaler keeps its own encoding) before handing it to the
// handler it wraps.
type Handler struct {
	next slog.Handler
}

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler {
	return &Handler{next: next}
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle escapes r and passes it on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(escapeAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs escapes as and passes them on.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	esc := make([]slog.Attr, len(as))
	for i, a := range as {
		esc[i] = escapeAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(esc)}
}

// WithGroup passes the group on, its name escaped.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(String(name))}
}

func escapeAttr(a slog.Attr) slog.Attr {
	a.Key = String(a.Key)
	a.Value = escapeValue(a.Value.Resolve())
	return a
}

func escapeValue(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(String(v.String()))
	case slog.KindGroup:
		as := v.Group()
		esc := make([]slog.Attr, len(as))
		for i, a := range as {
			esc[i] = escapeAttr(a)
		}
		return slog.GroupValue(esc...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			// The JSON and text handlers write an error as its text.
			return slog.StringValue(String(x.Error()))
		case []string:
			esc := make([]string, len(x))
			for i, s := range x {
				esc[i] = String(s)
			}
			return slog.AnyValue(esc)
		case json.Marshaler:
			// Its encoding is its own (the JSON handler uses it).
		case fmt.Stringer:
			return slog.StringValue(String(x.String()))
		}
	}
	return v
}
