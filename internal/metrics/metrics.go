// Package metrics is tlntsvr's Prometheus instrumentation: the metrics the
// daemon exports on metrics_listen, and the hooks the server calls as
// things happen. Every hook is cheap (an atomic add) and safe on a nil
// *Metrics, so code that runs without metrics (tests) needs no checks.
//
// Names follow Prometheus' conventions: the tlntsvr_ prefix, base units
// (seconds, bytes), _total for counters. docs/operations.md lists them.
package metrics

import (
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The values of the logons' result label.
const (
	LogonOK     = "ok"     // password (or certificate) right, session started
	LogonFailed = "failed" // wrong name or password
	LogonLocked = "locked" // refused by the lockout, without a check
	LogonDenied = "denied" // right password, but not allowed (group, account, TLS)
)

// Reasons for refusing a connection before its logon, the refusals'
// reason label. Others may be added by the admission code; these are
// exported at 0 from the start so that rate() sees their first one.
var knownRefusals = []string{
	"paused", "max_connections", "too_many_pending", "tls_required",
	"prelogon_flood", "proxy_header", "proxy_header_untrusted",
}

// Modes and TLS versions a session may have, exported at 0 when no
// session has them, so that sums and alerts never see an empty vector.
var (
	knownModes = []string{"console", "stream"}
	knownTLS   = []string{"none", "TLS1.2", "TLS1.3"}
)

// Session is what the server tells of one logged-on session at a scrape.
type Session struct {
	Mode    string // console | stream
	TLS     string // none | TLS1.2 | TLS1.3
	BytesIn int64  // data bytes from the client so far
	// BytesOut: data bytes to the client so far.
	BytesOut int64
}

// Live is the server's state at a scrape: its sessions and the
// connections that have not logged on yet.
type Live func() (sessions []Session, preLogon int)

// Metrics holds the daemon's metrics.
type Metrics struct {
	reg  *prometheus.Registry
	live Live

	logons       *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	evictions    *prometheus.CounterVec
	penalties    prometheus.Gauge
	healthChecks prometheus.Counter
	bcryptWait   prometheus.Histogram
	duration     prometheus.Histogram
	reloads      *prometheus.CounterVec
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge

	// Bytes of the sessions that have ended, and the totals last
	// exported (see collect).
	mu                sync.Mutex
	endedIn, endedOut float64
	shownIn, shownOut float64

	sessionsDesc, preLogonDesc, bytesInDesc, bytesOutDesc *prometheus.Desc
	buildOnce                                             sync.Once
}

// New makes the metrics. live is called at each scrape.
func New(live Live) *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		live: live,
		logons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlntsvr_logons_total",
			Help: "Logon attempts by result: ok, failed (wrong name or password), locked (refused by the lockout), denied (not allowed).",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlntsvr_connections_refused_total",
			Help: "Connections refused or dropped before their logon, by reason.",
		}, []string{"reason"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlntsvr_prelogon_evictions_total",
			Help: "Connections not yet logged on that were closed to make room for a newcomer, by reason.",
		}, []string{"reason"}),
		penalties: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlntsvr_penalties",
			Help: "Source networks under a penalty now.",
		}),
		healthChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tlntsvr_proxy_health_checks_total",
			Help: "Load balancer health checks answered (PROXY LOCAL or UNKNOWN headers, and connections closed before a header).",
		}),
		bcryptWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tlntsvr_bcrypt_queue_wait_seconds",
			Help:    "Time a password check waited for a slot in the bcrypt pool.",
			Buckets: []float64{.001, .005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tlntsvr_session_duration_seconds",
			Help:    "Duration of the sessions that have ended, from logon to end.",
			Buckets: []float64{1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlntsvr_reloads_total",
			Help: "Reloads of the config, users and groups files (SIGHUP, tlntadmn), by result: ok or error.",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlntsvr_reload_last_success",
			Help: "1 if the last reload put every file in force, 0 if it refused one.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlntsvr_reload_last_timestamp_seconds",
			Help: "When the last reload ran, in seconds since the Unix epoch; 0 before the first.",
		}),
		sessionsDesc: prometheus.NewDesc("tlntsvr_sessions",
			"Logged-on sessions, by mode (console, stream) and TLS version (none for clear text).", []string{"mode", "tls"}, nil),
		preLogonDesc: prometheus.NewDesc("tlntsvr_prelogon_connections",
			"Connections negotiating or at the login prompt, not yet logged on.", nil, nil),
		bytesInDesc: prometheus.NewDesc("tlntsvr_session_received_bytes_total",
			"Data bytes received from the clients of logged-on sessions.", nil, nil),
		bytesOutDesc: prometheus.NewDesc("tlntsvr_session_sent_bytes_total",
			"Data bytes sent to the clients of logged-on sessions.", nil, nil),
	}
	for _, r := range []string{LogonOK, LogonFailed, LogonLocked, LogonDenied} {
		m.logons.WithLabelValues(r)
	}
	for _, r := range knownRefusals {
		m.refusals.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	m.reloadOK.Set(1)
	m.reg.MustRegister(m.logons, m.refusals, m.evictions, m.penalties, m.healthChecks, m.bcryptWait,
		m.duration, m.reloads, m.reloadOK, m.reloadTime, liveCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SetBuildInfo exports tlntsvr_build_info with the daemon's version. Once:
// a second call is ignored.
func (m *Metrics) SetBuildInfo(version string) {
	m.buildOnce.Do(func() {
		build := prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "tlntsvr_build_info",
			Help:        "Always 1; the labels say which tlntsvr and Go built it.",
			ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
		})
		build.Set(1)
		m.reg.MustRegister(build)
	})
}

// Handler serves the metrics in Prometheus' text format (and OpenMetrics
// when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// One scrape at a time: a scrape walks every session.
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	})
}

// Logon counts a logon attempt's result (LogonOK...).
func (m *Metrics) Logon(result string) {
	if m != nil {
		m.logons.WithLabelValues(result).Inc()
	}
}

// Refused counts a connection refused or dropped before its logon.
// reason is a short fixed word (never an address or a user name: each
// value is a series of its own).
func (m *Metrics) Refused(reason string) {
	if m != nil {
		m.refusals.WithLabelValues(reason).Inc()
	}
}

// Evicted counts a connection not yet logged on that was closed to make
// room; reason is a short fixed word (silent, slow...).
func (m *Metrics) Evicted(reason string) {
	if m != nil {
		m.evictions.WithLabelValues(reason).Inc()
	}
}

// SetPenalties says how many sources are under a penalty now.
func (m *Metrics) SetPenalties(n int) {
	if m != nil {
		m.penalties.Set(float64(n))
	}
}

// HealthCheck counts a load balancer's health check.
func (m *Metrics) HealthCheck() {
	if m != nil {
		m.healthChecks.Inc()
	}
}

// BcryptWait records how long a password check waited for the pool.
func (m *Metrics) BcryptWait(d time.Duration) {
	if m != nil {
		m.bcryptWait.Observe(d.Seconds())
	}
}

// SessionEnded records an ended session. Call it after the session has
// left what Live reports, never before: its bytes then move from the live
// sum to the ended one, and a scrape in between sees a total that is low
// for a moment (held at the last one shown) but never one counted twice.
func (m *Metrics) SessionEnded(d time.Duration, bytesIn, bytesOut int64) {
	if m == nil {
		return
	}
	m.duration.Observe(d.Seconds())
	m.mu.Lock()
	m.endedIn += float64(bytesIn)
	m.endedOut += float64(bytesOut)
	m.mu.Unlock()
}

// Reloaded records a reload's result.
func (m *Metrics) Reloaded(err error, at time.Time) {
	if m == nil {
		return
	}
	m.reloadTime.Set(float64(at.UnixNano()) / 1e9)
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.reloadOK.Set(1)
}

// liveCollector exports what is read from the server at each scrape.
type liveCollector struct{ m *Metrics }

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.sessionsDesc
	ch <- c.m.preLogonDesc
	ch <- c.m.bytesInDesc
	ch <- c.m.bytesOutDesc
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	var sessions []Session
	preLogon := 0
	if m.live != nil {
		sessions, preLogon = m.live()
	}
	type key struct{ mode, tls string }
	counts := map[key]int{}
	for _, mode := range knownModes {
		for _, t := range knownTLS {
			counts[key{mode, t}] = 0
		}
	}
	var in, out float64
	for _, s := range sessions {
		counts[key{s.Mode, s.TLS}]++
		in += float64(s.BytesIn)
		out += float64(s.BytesOut)
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.sessionsDesc, prometheus.GaugeValue, float64(n), k.mode, k.tls)
	}
	ch <- prometheus.MustNewConstMetric(m.preLogonDesc, prometheus.GaugeValue, float64(max(preLogon, 0)))
	// A counter must never go down. The ended sessions' bytes are added
	// after a session leaves the live list, so for a moment the sum is
	// short by that session's bytes: the last total shown stands then.
	m.mu.Lock()
	m.shownIn = max(m.shownIn, m.endedIn+in)
	m.shownOut = max(m.shownOut, m.endedOut+out)
	in, out = m.shownIn, m.shownOut
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(m.bytesInDesc, prometheus.CounterValue, in)
	ch <- prometheus.MustNewConstMetric(m.bytesOutDesc, prometheus.CounterValue, out)
}
