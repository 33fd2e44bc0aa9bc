package config

// What an unknown key is told: the keys there are, and the one it may
// have meant (a typo, or a Windows name).

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// unknownKeyMsg says that name is no key of fs (a mapping's keys when
// prefix is "lockout." and the like), what it may have meant, and which keys
// there are.
func unknownKeyMsg(name string, fs []field, prefix string) string {
	var b strings.Builder
	if name == "<<" {
		b.WriteString("YAML merge keys (<<) are not supported; ")
	} else {
		b.WriteString("unknown key")
		if s := suggest(name, fs); s != "" {
			fmt.Fprintf(&b, " (did you mean %s?)", s)
		}
		b.WriteString("; ")
	}
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	where := "accepted keys"
	if prefix != "" {
		where = "accepted keys in " + strings.TrimSuffix(prefix, ".")
	}
	fmt.Fprintf(&b, "%s: %s", where, strings.Join(keys, ", "))
	return b.String()
}

func suggest(name string, fs []field) string {
	if len(name) > 64 {
		return ""
	}
	norm := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for _, f := range fs {
		for _, w := range f.aliases {
			if w.name == norm {
				return f.key
			}
		}
	}
	best, bestDist := "", 3
	for _, f := range fs {
		if f.key == norm {
			return f.key
		}
		if dist := editDistance(norm, f.key); dist < bestDist {
			best, bestDist = f.key, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// displayKey makes an unknown key safe and short enough to print.
func displayKey(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			plain = false
			break
		}
	}
	s = truncate(s, 64)
	if plain {
		return s
	}
	return strconv.Quote(s)
}
