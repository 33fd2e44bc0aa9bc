package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

// Every series an alert may use is there from the start, at 0, and the
// hooks move the right one.
func TestMetrics(t *testing.T) {
	live := []Session{{Mode: "console", TLS: "TLS1.3", BytesIn: 10, BytesOut: 100}}
	m := New(func() ([]Session, int) { return live, 3 })
	m.SetBuildInfo("v1.2.3")
	out := scrape(t, m)
	for _, want := range []string{
		`tlntsvr_logons_total{result="failed"} 0`,
		`tlntsvr_connections_refused_total{reason="max_connections"} 0`,
		`tlntsvr_sessions{mode="console",tls="TLS1.3"} 1`,
		`tlntsvr_sessions{mode="stream",tls="none"} 0`,
		`tlntsvr_prelogon_connections 3`,
		`tlntsvr_session_received_bytes_total 10`,
		`tlntsvr_session_sent_bytes_total 100`,
		`tlntsvr_reloads_total{result="error"} 0`,
		`tlntsvr_build_info{goversion="go`,
		`version="v1.2.3"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}

	m.Logon(LogonFailed)
	m.Refused("max_connections")
	m.Evicted("silent")
	m.SetPenalties(4)
	m.BcryptWait(30 * time.Millisecond)
	m.Reloaded(errors.New("bad"), time.Unix(100, 0))
	// The session ends: it leaves the live list first, then is counted.
	live = nil
	mid := scrape(t, m)
	m.SessionEnded(90*time.Second, 10, 100)
	out = scrape(t, m)
	for _, want := range []string{
		`tlntsvr_logons_total{result="failed"} 1`,
		`tlntsvr_connections_refused_total{reason="max_connections"} 1`,
		`tlntsvr_prelogon_evictions_total{reason="silent"} 1`,
		`tlntsvr_penalties 4`,
		`tlntsvr_bcrypt_queue_wait_seconds_count 1`,
		`tlntsvr_reloads_total{result="error"} 1`,
		`tlntsvr_reload_last_success 0`,
		`tlntsvr_reload_last_timestamp_seconds 100`,
		`tlntsvr_session_duration_seconds_bucket{le="300"} 1`,
		`tlntsvr_sessions{mode="console",tls="TLS1.3"} 0`,
		`tlntsvr_session_sent_bytes_total 100`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// Between the two, the byte counters held (a counter never drops).
	if !strings.Contains(mid, `tlntsvr_session_sent_bytes_total 100`) {
		t.Errorf("sent bytes dropped while a session ended:\n%s", mid)
	}
}

// The hooks do nothing on a nil *Metrics, for code run without metrics.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Logon(LogonOK)
	m.Refused("x")
	m.Evicted("x")
	m.SetPenalties(1)
	m.HealthCheck()
	m.BcryptWait(time.Second)
	m.SessionEnded(time.Second, 1, 1)
	m.Reloaded(nil, time.Now())
}
