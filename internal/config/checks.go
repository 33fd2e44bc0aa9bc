package config

// Checks of values that are not about YAML: listen addresses, host
// names, the banner, environment variable names. Each returns what is
// wrong, for the decoder to report with the file, line and key.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkListen checks a listen address and returns it normalised (to find
// duplicates such as "[::1]:23" and "[0::1]:023") or a message.
func checkListen(s string) (string, string) {
	const examples = `write host:port, such as ":23", "192.0.2.1:23" or "[2001:db8::1]:23"`
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		reason := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			reason = ae.Err
		}
		if _, err := strconv.ParseUint(s, 10, 16); err == nil {
			return "", fmt.Sprintf("%q has no host part; write \":%s\" for port %s on every address", s, s, s)
		}
		if strings.Contains(reason, "too many colons") {
			return "", fmt.Sprintf("%q: an IPv6 address must be in brackets, as in \"[::1]:23\"", truncate(s, 60))
		}
		return "", fmt.Sprintf("%q is not host:port (%s); %s", truncate(s, 60), reason, examples)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Sprintf("%q: the port must be a number from 0 to 65535; got %q", truncate(s, 60), truncate(port, 20))
	}
	bracketed := strings.HasPrefix(s, "[")
	switch addr, err := netip.ParseAddr(host); {
	case host == "" && !bracketed:
	case err == nil:
		host = addr.String()
	case bracketed || !validHostname(host):
		return "", fmt.Sprintf("%q: %q is neither an IP address nor a host name; %s", truncate(s, 60), truncate(host, 60), examples)
	default:
		host = strings.ToLower(host)
	}
	return net.JoinHostPort(host, strconv.FormatUint(p, 10)), ""
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch == '-' || '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z') {
				return false
			}
		}
	}
	return true
}

// checkBanner refuses control characters, which would let a banner change a
// client's terminal state; tab and newline (sent as CR LF) are allowed.
func checkBanner(s string) string {
	if len(s) > maxBannerBytes {
		return fmt.Sprintf("must be at most %d bytes long; got %d", maxBannerBytes, len(s))
	}
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for i, r := range s {
		switch {
		case r == '\t' || r == '\n':
		case r == '\r':
			return fmt.Sprintf(`contains a carriage return at byte %d; write line breaks as \n alone`, i)
		case unicode.IsControl(r):
			return fmt.Sprintf("contains the control character %U at byte %d; only tab and line breaks (\\n) are allowed", r, i)
		}
	}
	return ""
}

// validEnvPattern reports whether s is an accept_env entry: a variable
// name, or the start of one followed by "*".
func validEnvPattern(s string) bool {
	return len(s) <= maxEnvEntryBytes && validEnvName(strings.TrimSuffix(s, "*"))
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '_', 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z':
		case '0' <= ch && ch <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// minMemory is the least memory limit accepted: below it a shell and a
// login script cannot start.
const minMemory ByteSize = 16 << 20

// checkCIDR reads a network block, 10.0.0.0/8 or 2001:db8::/32; an
// address alone is a block of one address. Bits set past the prefix length
// are refused rather than masked: 10.1.2.3/8 is more likely a typo for
// 10.1.2.3/32 than a way to write 10.0.0.0/8.
func checkCIDR(s string) (netip.Prefix, string) {
	const examples = "write a network block such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Sprintf("%q is not an address or network block; %s", truncate(s, 60), examples)
		}
		s = a.Unmap().String() + "/" + strconv.Itoa(a.Unmap().BitLen())
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not a network block; %s", truncate(s, 60), examples)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Sprintf("%q is an IPv4-mapped IPv6 block; write the IPv4 block (IPv4 clients are matched as IPv4)", truncate(s, 60))
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Sprintf("%q has bits set past its prefix length; write %s for the block, or %s for the one address",
			truncate(s, 60), m, netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	return p, ""
}
