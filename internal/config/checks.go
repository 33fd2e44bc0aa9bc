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

// How listen addresses share a port. An empty host (":23") takes the port
// on every address, IPv4 and IPv6: Go binds it as one dual-stack socket.
// An IPv4 address, "0.0.0.0" included, takes only IPv4. "[::]:23" alone
// takes both, as Linux does by default
// (net.ipv6.bindv6only=0), so that a file written for that default keeps
// its IPv4 clients. But beside an IPv4 address of its port, such as
// "0.0.0.0:23", an IPv6 address is bound IPv6 only (IPV6_V6ONLY), as
// nginx and sshd bind theirs, so the two do not collide. What still
// cannot be bound together is refused when the file is read
// (crossCheckListen), not at the bind.

// listenHost is a listen address's host and port, parsed from the normal
// form checkListen gives.
type listenHost struct {
	port  uint64
	every bool       // ":port": every address, both families
	ip    netip.Addr // invalid for a host name (not checked)
}

func parseListenHost(addr string) (listenHost, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return listenHost{}, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return listenHost{}, false
	}
	ip, _ := netip.ParseAddr(host)
	return listenHost{port: p, every: host == "", ip: ip.Unmap()}, true
}

// ListenNetwork is the network to bind addr on, given all the addresses
// listened on (listen and listen_tls): "tcp4" for an IPv4 address (Go
// would bind "0.0.0.0" with "tcp" as a dual-stack socket, IPv6 too),
// "tcp6" for an IPv6 address bound IPv6 only, else "tcp". See the comment
// above listenHost.
func ListenNetwork(addr string, all []string) string {
	h, ok := parseListenHost(addr)
	if ok && h.ip.Is4() {
		return "tcp4"
	}
	if !ok || !h.ip.IsValid() {
		return "tcp"
	}
	for _, other := range all {
		if o, ok := parseListenHost(other); ok && o.port == h.port && o.ip.IsValid() && o.ip.Is4() {
			return "tcp6"
		}
	}
	return "tcp"
}

// listenClash says why a and b (normal forms) cannot both be bound, or "".
// Port 0 (any free port) never clashes, and a host name only with itself.
func listenClash(a, b string) string {
	x, okx := parseListenHost(a)
	y, oky := parseListenHost(b)
	if !okx || !oky || x.port != y.port || x.port == 0 {
		return ""
	}
	if a == b || x.ip.IsValid() && x.ip == y.ip {
		// Also "[::ffff:127.0.0.1]:23" and "127.0.0.1:23": one address,
		// bound twice (both tcp4). Zones count: fe80::1%eth0 is not %eth1.
		return "it is the same address"
	}
	for _, h := range []struct {
		addr string
		listenHost
	}{{a, x}, {b, y}} {
		if h.every {
			return fmt.Sprintf("%q already takes port %d on every address, IPv4 and IPv6; list it alone, or list the addresses", h.addr, h.port)
		}
	}
	if !x.ip.IsValid() || !y.ip.IsValid() || x.ip.Is4() != y.ip.Is4() {
		return ""
	}
	family := "IPv6"
	if x.ip.Is4() {
		family = "IPv4"
	}
	for _, h := range []struct {
		addr string
		listenHost
	}{{a, x}, {b, y}} {
		if h.ip.IsUnspecified() {
			return fmt.Sprintf("%q already takes port %d on every %s address", h.addr, h.port, family)
		}
	}
	return ""
}
