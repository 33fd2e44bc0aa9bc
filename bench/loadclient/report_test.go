package main

import (
	"strings"
	"testing"
	"time"
)

// TestReportRoundsHeld checks a throughput row: the ratio to the PTY is the
// median of the rounds' ratios, the verdict is on that median, and the
// verdict says in how many rounds the target held on its own.
func TestReportRoundsHeld(t *testing.T) {
	k := &kind{Key: "text", Label: "text", Size: 100e6, Timeout: time.Minute}
	r := &results{
		Kinds:   []*kind{k},
		Rounds:  3,
		Ceiling: map[string]series{k.mbs(): {100, 100, 100}},
		Servers: map[string]map[string]series{
			"tlntsvr": {k.mbs(): {95, 80, 91}},
			"peer":    {k.mbs(): {50, 60, 70}},
		},
		Order: []string{"tlntsvr", "peer"},
		Ours:  map[string]bool{"tlntsvr": true},
	}
	var out strings.Builder
	report(&out, r)
	var line string
	for l := range strings.SplitSeq(out.String(), "\n") {
		if strings.HasPrefix(l, "| throughput, text (MB/s) |") {
			line = l
		}
	}
	// 91 is the median throughput; to the best peer of each round 1.90,
	// 1.33 and 1.30; to the PTY 0.95, 0.80 and 0.91.
	want := "| throughput, text (MB/s) | 91.0 | 60.0 | 100.0 | ≥ 0.9 × PTY | 1.33 | 0.91 | yes (2 of 3 rounds) |"
	if line != want {
		t.Errorf("throughput row:\n got %s\nwant %s\nwhole report:\n%s", line, want, out.String())
	}

	r.Servers["tlntsvr"][k.mbs()] = series{95, 80, 85}
	out.Reset()
	report(&out, r)
	if !strings.Contains(out.String(), "| 0.85 | **no** (1 of 3 rounds) |") {
		t.Errorf("want a median of 0.85 of the PTY judged no, held in 1 of 3 rounds:\n%s", out.String())
	}
}

// A variant (tlntsvr with recording on) is compared with its server round
// by round.
func TestReportVariant(t *testing.T) {
	k := &kind{Key: "text", Label: "text", Size: 100e6, Timeout: time.Minute}
	r := &results{
		Kinds: []*kind{k}, Rounds: 3,
		Ceiling: map[string]series{k.mbs(): {100, 100, 100}},
		Servers: map[string]map[string]series{
			"tlntsvr":  {k.mbs(): {90, 80, 100}, mEchoP99: {100, 100, 100}},
			"recorded": {k.mbs(): {85, 76, 80}, mEchoP99: {105, 120, 100}},
			"peer":     {k.mbs(): {50, 60, 70}},
		},
		Order: []string{"tlntsvr", "recorded", "peer"},
		Ours:  map[string]bool{"tlntsvr": true, "recorded": true},
		Vs:    map[string]string{"recorded": "tlntsvr"},
	}
	var out strings.Builder
	report(&out, r)
	// Ratios 0.94, 0.95, 0.80: median 0.94. Echo 105/100, 120/100, 1:
	// median 1.05, within 1/0.9.
	for _, want := range []string{
		"| throughput, text (MB/s) | 80.0 | 90.0 | 0.94 | ≥ 0.9 | yes (2 of 3 rounds) |",
		"| echo p99 (µs) | 105.0 | 100.0 | 1.05 | ≤ 1.11 | yes (2 of 3 rounds) |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks\n%s\n%s", want, out.String())
		}
	}
}
