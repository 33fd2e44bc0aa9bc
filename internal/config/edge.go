package config

// Readers of the network-edge settings that tlntsvr takes from its load
// balancer and its monitoring: proxy_protocol and metrics_listen.

import (
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxProxySources caps proxy_protocol.from: a handful of load balancers,
// checked on every connection.
const maxProxySources = 256

// proxySources reads proxy_protocol.from: CIDR prefixes or bare addresses.
func (d *decoder) proxySources(key string, n *yaml.Node) ([]string, bool) {
	es, ok := d.list(key, n, `a list of the load balancers' addresses as CIDR prefixes, such as ["10.0.0.0/24", "2001:db8::7/128"], or [] for none`)
	if !ok {
		return nil, false
	}
	if len(es) > maxProxySources {
		d.errorf(n.Line, key, "must list at most %d prefixes; got %d", maxProxySources, len(es))
		return nil, false
	}
	return uniqueEntries(d, key, es, ok, checkPrefix, "prefix")
}

// checkPrefix reads a CIDR prefix, or an address as a prefix of one host,
// and returns it or what is wrong with it. Host bits must be zero: a
// "10.0.0.7/24" would trust a whole network where one host was meant, or
// the other way round.
func checkPrefix(s string) (netip.Prefix, string) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Sprintf("%q is neither an address nor a CIDR prefix such as 10.0.0.0/24", truncate(s, 60))
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), ""
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not a CIDR prefix such as 10.0.0.0/24 or 2001:db8::/64", truncate(s, 60))
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Sprintf("%q has bits set past its prefix length; write %s for the network, or %s for the one host",
			s, p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	if p.Addr().Is4In6() {
		// An IPv4 client's address is compared as IPv4. (A prefix of
		// fewer than 96 bits masks part of ::ffff: away, so is not one.)
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, ""
}

// ProxySources returns proxy_protocol.from as prefixes.
func (c *Config) ProxySources() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.ProxyProtocol.From))
	for _, s := range c.ProxyProtocol.From {
		if p, msg := checkPrefix(s); msg == "" {
			out = append(out, p)
		}
	}
	return out
}

// metricsListen reads metrics_listen: "" (off) or host:port.
func (d *decoder) metricsListen(key string, n *yaml.Node) (string, bool) {
	v, ok := d.str(key, n)
	if !ok || v == "" {
		return v, ok
	}
	if _, msg := checkListen(v); msg != "" {
		d.errorf(n.Line, key, `%s; or "" for no metrics`, msg)
		return "", false
	}
	return v, true
}
