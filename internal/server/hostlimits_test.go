package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSessionCeilings(t *testing.T) {
	roomy := hostLimits{openFiles: 1 << 20, ptyMax: 1 << 20, pidMax: 4 << 20, threadsMax: 1 << 20}
	tests := []struct {
		name    string
		maxConn int
		h       hostLimits
		want    []string // the limits named, in order
		allows  []int
	}{
		{"roomy host", 10000, roomy, nil, nil},
		{"unknown limits", 10000, hostLimits{}, nil, nil},
		{"open files", 10000, hostLimits{openFiles: 1024}, []string{"RLIMIT_NOFILE"}, []int{320}},
		{"open files infinite", 10000, hostLimits{openFiles: 1 << 62}, nil, nil},
		{"pty.max less others' PTYs", 4000, hostLimits{ptyMax: 4096, ptyOthers: 200}, []string{"kernel.pty.max"}, []int{3896}},
		{"pty.max enough", 3000, hostLimits{ptyMax: 4096, ptyOthers: 200}, nil, nil},
		{"TasksMax", 10000, hostLimits{tasksMax: 4915, cgroup: "/system.slice/tlntsvr.service"}, []string{"TasksMax"}, []int{4851}},
		{"pid_max and threads-max", 40000, hostLimits{pidMax: 32768, threadsMax: 30000}, []string{"kernel.pid_max", "kernel.threads-max"}, []int{31744, 28976}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sessionCeilings(tt.maxConn, tt.h)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want limits %v", got, tt.want)
			}
			for i, w := range got {
				if !strings.HasPrefix(w.limit, tt.want[i]) || w.allows != tt.allows[i] || w.raise == "" {
					t.Errorf("warning %d: %+v, want %s allowing %d, with a way to raise it", i, w, tt.want[i], tt.allows[i])
				}
			}
		})
	}
}

func TestWarnHostLimitsNamesTheKnob(t *testing.T) {
	var buf bytes.Buffer
	warnHostLimits(slog.New(slog.NewTextHandler(&buf, nil)), 10000, hostLimits{ptyMax: 4096})
	out := buf.String()
	for _, want := range []string{"level=WARN", "max_connections=10000", "limit=kernel.pty.max", "allows=4096", "sysctl -w kernel.pty.max="} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}

// readHostLimits reads this host's figures (Linux): pid_max and
// pty.max are always there.
func TestReadHostLimits(t *testing.T) {
	h := readHostLimits(0)
	if h.pidMax <= 0 || h.ptyMax <= 0 {
		t.Errorf("readHostLimits: %+v, want kernel.pid_max and kernel.pty.max", h)
	}
}
