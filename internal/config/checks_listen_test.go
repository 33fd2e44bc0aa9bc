package config

import (
	"strings"
	"testing"
)

// Addresses that can all be bound pass, each on the network it needs: an
// IPv6 address is bound IPv6 only beside an IPv4 address of its port.
func TestListenAddressesThatShareAPort(t *testing.T) {
	for _, tt := range []struct {
		listen string
		want   []string // the network of each address
	}{
		{`["0.0.0.0:23", "[::]:23"]`, []string{"tcp4", "tcp6"}},
		{`["[::]:23", "127.0.0.1:23"]`, []string{"tcp6", "tcp4"}},
		{`["[::]:23"]`, []string{"tcp"}}, // alone: both families, as Linux's default
		{`["0.0.0.0:23"]`, []string{"tcp4"}},
		{`[":23"]`, []string{"tcp"}},
		{`["[::1]:23", "127.0.0.1:23", "[::1]:24"]`, []string{"tcp6", "tcp4", "tcp"}},
		{`["[::ffff:127.0.0.1]:23", "[::1]:23"]`, []string{"tcp4", "tcp6"}},
		{`["127.0.0.1:0", "0.0.0.0:0", ":0"]`, []string{"tcp4", "tcp4", "tcp"}}, // port 0: any free port
		{`["localhost:23", "0.0.0.0:23"]`, []string{"tcp", "tcp4"}},             // a name is not checked
	} {
		// listen_tls on a port of its own each time: the kernel's choice.
		cfg, err := Parse([]byte("listen: "+tt.listen+"\nlisten_tls: [\"127.0.0.1:0\"]\ntls: {cert_file: c, key_file: k}\n"), "t.yaml")
		if err != nil {
			t.Errorf("listen: %s: %v", tt.listen, err)
			continue
		}
		var got []string
		for _, a := range cfg.Listen {
			got = append(got, ListenNetwork(a, cfg.Listen))
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("listen: %s: networks %v, want %v", tt.listen, got, tt.want)
		}
	}
}
