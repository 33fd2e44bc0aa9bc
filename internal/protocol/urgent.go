package protocol

import "sync/atomic"

// urgentFlag is one connection's link with the urgent-data watcher
// (urgent_linux.go).
type urgentFlag struct {
	set     atomic.Bool            // urgent data arrived since last checked
	handler atomic.Pointer[func()] // SetUrgentHandler's f
	id      uint64                 // the connection's key in the watcher
}
