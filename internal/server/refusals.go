package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds on the audit records a flood of connections can cause. Within
// each floodInterval, the first floodFirst records of each source and
// kind are written as they happen, for at most floodSources (source,
// kind) pairs; the rest are counted, and one summary per pair (and one per
// kind for the sources past floodSources) is written at the interval's
// end. So at most floodSources*(floodFirst+1) records and one per kind
// (15) per interval, whatever the rate: 527 per 10 s. docs/security.md
// states it.
const (
	floodInterval = 10 * time.Second
	floodFirst    = 3
	floodSources  = 128
)

// floodKind is one kind of record that a flood repeats.
type floodKind struct {
	level  slog.Level
	msg    string // of each record
	event  string // of each record
	verb   string // of the summary: "refused 80056 connections ..."
	reason string // of both
	// metric is the reason label of tlntsvr_refused_connections_total for
	// a refusal, "" for the other kinds (evictions and penalties have
	// metrics of their own).
	metric string
}

// The kinds of record summarised.
var (
	refusedDenied    = floodKind{slog.LevelInfo, "connection refused", "connection_refused", "refused", "address not allowed (allow, deny)", "denied"}
	refusedPaused    = floodKind{slog.LevelInfo, "connection refused", "connection_refused", "refused", "paused", "paused"}
	refusedSessions  = floodKind{slog.LevelInfo, "connection refused", "connection_refused", "refused", "max_connections", "max_connections"}
	refusedPenalised = floodKind{slog.LevelInfo, "connection refused", "connection_refused", "refused", "source penalised for failed, timed-out or silent logons", "penalised"}
	refusedPerSource = floodKind{slog.LevelInfo, "connection refused", "connection_refused", "refused", "too many pending logons from the address", "too_many_pending"}
	evictedStartup   = floodKind{slog.LevelInfo, "connection closed to make room", "connection_evicted", "closed", "max_startups reached; it had made least progress", ""}
	refusedTLS       = floodKind{slog.LevelWarn, "connection refused", "tls_required", "refused", "TLS required", "tls_required"}
	failedTLS        = floodKind{slog.LevelWarn, "TLS handshake failed", "tls_handshake_failed", "closed", "TLS handshake failed", "tls_handshake_failed"}
	droppedFlood     = floodKind{slog.LevelWarn, "connection dropped", "prelogon_flood", "closed", "client sent too much before logging on", "prelogon_flood"}
	droppedFailures  = floodKind{slog.LevelWarn, "connection dropped", "max_failed_logons", "closed", "max_failed_logons reached", "max_failed_logons"}
	refusedLockedOut = floodKind{slog.LevelWarn, "logon refused", "logon_locked_out", "refused logons on", "locked out", "locked_out"}
	refusedProxy     = floodKind{slog.LevelWarn, "connection refused", "connection_refused", "refused", "proxy_header", "proxy_header"}
	refusedForged    = floodKind{slog.LevelWarn, "connection refused", "connection_refused", "refused", "proxy_header_untrusted", "proxy_header_untrusted"}
	penaltyBegins    = floodKind{slog.LevelWarn, "source penalised", "penalty", "penalised", "failed, timed-out or silent logons", ""}
	penaltyTableFull = floodKind{slog.LevelWarn, "penalty table full; source not charged", "penalty_table_full", "did not charge", "penalty table full", ""}
)

// floodAudit writes the records of floodKinds, summarised.
type floodAudit struct {
	audit    *slog.Logger
	interval time.Duration

	mu     sync.Mutex
	start  time.Time
	counts map[floodKey]int
	others map[floodKind]int // connections of the sources past floodSources
	timer  *time.Timer       // nil while no interval is open

	// counted, when set, is told of every record, written or summarised
	// (the metrics count them all).
	counted func(floodKind)
}

type floodKey struct {
	source string
	kind   floodKind
}

func newFloodAudit(audit *slog.Logger, interval time.Duration) *floodAudit {
	return &floodAudit{audit: audit, interval: interval, counts: map[floodKey]int{}, others: map[floodKind]int{}}
}

// record writes one record of kind k for source (an address, or a
// network block) unless the interval has had floodFirst of them; attrs
// follow event and reason.
func (f *floodAudit) record(k floodKind, source string, attrs ...any) {
	if f.counted != nil {
		f.counted(k)
	}
	f.mu.Lock()
	if f.timer == nil {
		f.start = time.Now()
		f.timer = time.AfterFunc(f.interval, f.flush)
	}
	key := floodKey{source, k}
	n, known := f.counts[key]
	if !known && len(f.counts) >= floodSources {
		f.others[k]++
		f.mu.Unlock()
		return
	}
	f.counts[key] = n + 1
	f.mu.Unlock()
	if n < floodFirst {
		f.audit.Log(context.Background(), k.level, k.msg, append([]any{"event", k.event, "reason", k.reason}, attrs...)...)
	}
}

// flush writes the interval's summaries and closes it.
func (f *floodAudit) flush() {
	f.mu.Lock()
	counts, others, start := f.counts, f.others, f.start
	f.counts, f.others = map[floodKey]int{}, map[floodKind]int{}
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	f.mu.Unlock()
	took := time.Since(start).Round(time.Second)
	keys := make([]floodKey, 0, len(counts))
	for k, n := range counts {
		if n > floodFirst {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b floodKey) int {
		return strings.Compare(a.kind.event+a.kind.reason+a.source, b.kind.event+b.kind.reason+b.source)
	})
	for _, k := range keys {
		f.summary(k.kind, counts[k], floodFirst, "from "+k.source, took, "source", k.source)
	}
	kinds := slices.SortedFunc(maps.Keys(others), func(a, b floodKind) int {
		return strings.Compare(a.event+a.reason, b.event+b.reason)
	})
	for _, k := range kinds {
		f.summary(k, others[k], 0, "from other sources", took)
	}
}

// summary writes that n records of kind k were due, of which written
// were written.
func (f *floodAudit) summary(k floodKind, n, written int, from string, took time.Duration, attrs ...any) {
	f.audit.Log(context.Background(), k.level, fmt.Sprintf("%s %d connections %s in %s: %s", k.verb, n, from, took, k.reason),
		append([]any{"event", "audit_summary", "summarises", k.event, "reason", k.reason, "count", n,
			"written", written, "interval", took.String()}, attrs...)...)
}
