package config

// The network edge's values: lists of network blocks (allow, deny,
// penalty_exempt) and the prefix lengths that make one source.

import (
	"net/netip"
	"strconv"
)

// CIDRs is a list of network blocks, such as [10.0.0.0/8, "2001:db8::/32"].
type CIDRs []netip.Prefix

// Contains reports whether a (an IPv4-mapped IPv6 address counts as its
// IPv4 address) is in one of the blocks.
func (c CIDRs) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (c CIDRs) listItems() []string {
	out := make([]string, len(c))
	for i, p := range c {
		out[i] = p.String()
	}
	return out
}

// Netblock is the prefix lengths that make one source, for IPv4 and IPv6
// addresses: the connections of a source count together against
// per_source_max_startups, and share its penalties.
type Netblock struct {
	IPv4 int // 1 to 32
	IPv6 int // 1 to 128
}

// Source returns the network block of a that counts as one source.
func (n Netblock) Source(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := n.IPv6
	if a.Is4() {
		bits = n.IPv4
	}
	p, err := a.Prefix(bits)
	if err != nil { // an invalid address: a source of its own
		return netip.PrefixFrom(a, a.BitLen())
	}
	return p
}

func (n Netblock) listItems() []string {
	return []string{strconv.Itoa(n.IPv4), strconv.Itoa(n.IPv6)}
}

// listValue is a typed value the file writes as a list.
type listValue interface{ listItems() []string }
