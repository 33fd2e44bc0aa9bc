package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is an amount of bytes, written in the file as a whole number
// of bytes (with or without a B) or of a binary unit: 4096, 512KiB, 64MiB,
// 2G. K, M, G and T are KiB, MiB, GiB and TiB, as systemd's MemoryMax
// reads them. record.max_bytes and session_limits.memory are ByteSizes;
// each setting has its own range.
type ByteSize int64

// byteUnits are the units a ByteSize may be written in, largest first; a
// short name (K) after the long one (KiB), which ends with it.
var byteUnits = []struct {
	suffix string
	size   ByteSize
}{
	{"TiB", 1 << 40}, {"T", 1 << 40}, {"GiB", 1 << 30}, {"G", 1 << 30},
	{"MiB", 1 << 20}, {"M", 1 << 20}, {"KiB", 1 << 10}, {"K", 1 << 10},
}

// maxByteSize is the most any ByteSize may be: far past any memory or
// disk, and short of overflowing the sums made with it.
const maxByteSize ByteSize = 1 << 62

// String writes b in its largest whole unit, as the file would.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && b%u.size == 0 && strings.HasSuffix(u.suffix, "iB") {
			return strconv.FormatInt(int64(b/u.size), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// parseByteSize reads a ByteSize: what String writes, a number of bytes
// with or without a B, or a number of K, M, G or T; spaces around the
// number are allowed. The error says what is wrong with s.
func parseByteSize(s string) (ByteSize, error) {
	num := strings.TrimSpace(s)
	mult := ByteSize(1)
	for _, u := range byteUnits {
		if n, found := strings.CutSuffix(num, u.suffix); found {
			num, mult = strings.TrimSpace(n), u.size
			break
		}
	}
	if mult == 1 {
		num = strings.TrimSpace(strings.TrimSuffix(num, "B"))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(num, "-"), err == nil && n > int64(maxByteSize/mult):
		return 0, fmt.Errorf("%q is too large", s)
	case err != nil || n < 0:
		return 0, fmt.Errorf("must be a size: a number of bytes, or of K, M, G or T (KiB, MiB, GiB, TiB); got %q", s)
	}
	return ByteSize(n) * mult, nil
}

// byteSize decodes a ByteSize from lo to hi (hi maxByteSize: no bound of
// the setting's own); example, such as "64MiB", ends what a wrong value is
// told. With none, "" (or no value) is 0.
func (d *decoder) byteSize(key string, n *yaml.Node, lo, hi ByteSize, none bool, example string) (ByteSize, bool) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode || (s.ShortTag() != "!!int" && s.ShortTag() != "!!str" && !(none && s.ShortTag() == "!!null")) {
		d.errorf(n.Line, key, "must be a size such as %s; got %s", example, describe(n))
		return 0, false
	}
	if none && s.Value == "" {
		return 0, true
	}
	v, err := parseByteSize(s.Value)
	var problem string
	switch {
	case err != nil:
		problem = err.Error()
	case v < lo && hi == maxByteSize:
		problem = fmt.Sprintf("must be at least %s; got %s", lo, describe(n))
	case v < lo || v > hi:
		problem = fmt.Sprintf("must be from %s to %s; got %s", lo, hi, describe(n))
	default:
		return v, true
	}
	d.errorf(n.Line, key, "%s; e.g. %s", problem, example)
	return 0, false
}
