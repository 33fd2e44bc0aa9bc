package config

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is an amount of bytes, written in the file as a whole number
// of bytes or with a binary unit: 4096, 512KiB, 64MiB, 1GiB.
type ByteSize int64

// byteUnits are the units a ByteSize may be written in, largest first.
var byteUnits = []struct {
	suffix string
	size   ByteSize
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

const byteSizeHelp = "a size such as 64MiB, 512KiB, 1GiB or a number of bytes (units KiB, MiB, GiB, TiB)"

// String writes b in its largest whole unit, as the file would.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// parseByteSize reads what String writes, and a number of bytes with or
// without a B; ok is false for anything else.
func parseByteSize(s string) (ByteSize, bool) {
	s = strings.TrimSpace(s)
	mult := ByteSize(1)
	for _, u := range byteUnits {
		if num, found := strings.CutSuffix(s, u.suffix); found {
			s, mult = strings.TrimSpace(num), u.size
			break
		}
	}
	if mult == 1 {
		s = strings.TrimSpace(strings.TrimSuffix(s, "B"))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > int64(maxRecordBytes/mult) {
		return 0, false
	}
	return ByteSize(n) * mult, true
}

// byteSize decodes a ByteSize from lo to hi.
func (d *decoder) byteSize(key string, n *yaml.Node, lo, hi ByteSize) (ByteSize, bool) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode || (s.ShortTag() != "!!int" && s.ShortTag() != "!!str") {
		d.errorf(n.Line, key, "must be %s; got %s", byteSizeHelp, describe(n))
		return 0, false
	}
	v, ok := parseByteSize(s.Value)
	if !ok {
		d.errorf(n.Line, key, "must be %s; got %s", byteSizeHelp, describe(n))
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n.Line, key, "must be from %s to %s; got %s", lo, hi, describe(n))
		return 0, false
	}
	return v, true
}
