package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCIDRsContains(t *testing.T) {
	blocks := CIDRs{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.7/32")}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"11.0.0.1", false},
		{"::ffff:10.9.9.9", true}, // IPv4-mapped matches as IPv4
		{"2001:db8:ffff::1", true},
		{"2001:db9::1", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
	} {
		if got := blocks.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if (CIDRs{}).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("an empty list contains an address")
	}
}

func TestNetblockSource(t *testing.T) {
	for _, tt := range []struct {
		nb         Netblock
		addr, want string
	}{
		{Netblock{32, 64}, "127.0.9.1", "127.0.9.1/32"},
		{Netblock{24, 64}, "127.0.9.1", "127.0.9.0/24"},
		{Netblock{32, 64}, "::ffff:127.0.9.1", "127.0.9.1/32"},
		{Netblock{32, 64}, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{Netblock{32, 48}, "2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"},
	} {
		if got := tt.nb.Source(netip.MustParseAddr(tt.addr)).String(); got != tt.want {
			t.Errorf("%v.Source(%s) = %s, want %s", tt.nb, tt.addr, got, tt.want)
		}
	}
}

func TestCheckCIDR(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"192.0.2.7", "192.0.2.7/32", ""},
		{"::1", "::1/128", ""},
		{"::ffff:192.0.2.7", "192.0.2.7/32", ""}, // an address alone is unmapped
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"10.0.0.1/8", "", "bits set past its prefix length"},
		{"10.0.0.0/40", "", "not a network block"},
		{"host.example", "", "not an address or network block"},
		{"", "", "not an address or network block"},
	} {
		p, msg := checkCIDR(tt.in)
		switch {
		case tt.err != "" && !strings.Contains(msg, tt.err):
			t.Errorf("checkCIDR(%q): message %q, want one containing %q", tt.in, msg, tt.err)
		case tt.err == "" && (msg != "" || p.String() != tt.want):
			t.Errorf("checkCIDR(%q) = %s, %q; want %s", tt.in, p, msg, tt.want)
		}
	}
}
