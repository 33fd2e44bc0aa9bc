// Package admin is the admin API between tlntsvr and tlntadmn: the wire
// types and the client. The API is JSON over HTTP on a Unix socket, with
// versioned paths, so `curl --unix-socket SOCKET http://tlntsvr/v1/sessions`
// works as well as tlntadmn.
package admin

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// API paths.
const (
	PathStatus   = "/v1/status"
	PathSessions = "/v1/sessions"
	PathMessage  = "/v1/sessions/message"
	PathKill     = "/v1/sessions/kill"
	PathConfig   = "/v1/config"
	PathPause    = "/v1/pause"
	PathContinue = "/v1/continue"
	PathReload   = "/v1/reload"
	// PathShadow streams a session's output (GET; {id} is its ID): first
	// what redraws its screen, then what it writes, until the client
	// closes the connection or the session ends. The body is the raw
	// terminal bytes, for a terminal.
	PathShadow = "/v1/sessions/{id}/shadow"
)

// ShadowPath is PathShadow for session id.
func ShadowPath(id int) string {
	return strings.Replace(PathShadow, "{id}", strconv.Itoa(id), 1)
}

// Session is one logged-on session.
type Session struct {
	ID           int       `json:"id"`
	User         string    `json:"user"`
	OSAccount    string    `json:"os_account"`
	Remote       string    `json:"remote"`
	Proxy        string    `json:"proxy,omitempty"` // the balancer's host:port, for a PROXY protocol connection
	LogonTime    time.Time `json:"logon_time"`
	LastActivity time.Time `json:"last_activity"`
	IdleSeconds  int64     `json:"idle_seconds"`
	Term         string    `json:"term"`
	Cols         int       `json:"cols"`
	Rows         int       `json:"rows"`
	PID          int       `json:"pid"`
	// TLS is how the connection is protected; null for clear text.
	TLS *TLS `json:"tls"`
	// Recording is the file the session is recorded to; "" when it is
	// not recorded (record.dir unset, or the file could not be made).
	Recording string `json:"recording"`
}

// TLS describes a session's encryption.
type TLS struct {
	Version     string `json:"version"`      // "TLS1.2", "TLS1.3"
	CipherSuite string `json:"cipher_suite"` // e.g. TLS_AES_128_GCM_SHA256
	// Via is how the client came to TLS: "telnets" (listen_tls),
	// "start_tls" or "auth_ssl" (on a listen address).
	Via string `json:"via"`
	// ClientCertificate is the subject of the certificate the user logged
	// on with; "" for a password logon.
	ClientCertificate string `json:"client_certificate,omitempty"`
}

// Status is the daemon's state.
type Status struct {
	Version     string    `json:"version"`
	PID         int       `json:"pid"`
	Started     time.Time `json:"started"`
	Paused      bool      `json:"paused"`
	Sessions    int       `json:"sessions"`
	Connections int       `json:"connections"` // including those logging on
	ConfigPath  string    `json:"config_path"`
	Listen      []string  `json:"listen"` // addresses actually listened on
	Goroutines  int       `json:"goroutines"`
	OpenFiles   int       `json:"open_files"` // the daemon's file descriptors
}

// Target names the sessions an action applies to: a session ID, or "all".
type Target = string

// MessageRequest sends text to sessions' terminals.
type MessageRequest struct {
	Target Target `json:"target"`
	Text   string `json:"text"`
}

// KillRequest ends sessions, telling their users Message first.
type KillRequest struct {
	Target  Target `json:"target"`
	Message string `json:"message,omitempty"`
}

// CountResponse says how many sessions an action reached.
type CountResponse struct {
	Count int `json:"count"`
	// Unreached counts the sessions a message was for that did not take
	// it in time: their clients are not reading (see MessageResult).
	Unreached int `json:"unreached,omitempty"`
	// StreamMode counts the sessions a message was for that run in
	// stream mode: their clients get nothing but their programs' output,
	// so they are sent no message.
	StreamMode int `json:"stream_mode,omitempty"`
}

// MaxMessageBytes caps an administrator's message (and a kill's reason):
// a full screen of text is under 2 KiB, and more scrolls past unread in
// every session it goes to. docs/decisions.md.
const MaxMessageBytes = 4 << 10

// CheckMessage refuses a message (what names it in the error) over
// MaxMessageBytes, and an empty one unless it may be. tlntadmn checks
// before it asks the daemon; the daemon checks what it is asked.
func CheckMessage(what, text string, mayBeEmpty bool) error {
	if !mayBeEmpty && strings.TrimSpace(text) == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(text) > MaxMessageBytes {
		return fmt.Errorf("%s is %d bytes; the limit is %d bytes (4 KiB)", what, len(text), MaxMessageBytes)
	}
	return nil
}

// Setting is one configuration key and its value as YAML would write it.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ConfigResponse lists every setting in force.
type ConfigResponse struct {
	Path     string    `json:"path"`
	Settings []Setting `json:"settings"`
}

// ConfigChangeRequest changes settings: each "key=value" in the daemon's
// key names, values in YAML syntax (e.g. listen=["127.0.0.1:23"]).
type ConfigChangeRequest struct {
	Changes []Setting `json:"changes"`
}

// ConfigChangeResponse says what a change did.
type ConfigChangeResponse struct {
	Path          string   `json:"path"`           // the file written
	Applied       []string `json:"applied"`        // keys in force now
	RestartNeeded []string `json:"restart_needed"` // keys that take effect at the next start
	// AlsoApplied are keys that were not asked for but went in with the
	// change: they had been edited in the file since the daemon last read
	// it (the whole file is put in force, as a reload would).
	AlsoApplied []string `json:"also_applied,omitempty"`
}

// ReloadRequest asks the daemon to re-read its config, users and groups
// files; Reason (e.g. "user add alice") goes into the audit record.
type ReloadRequest struct {
	Reason string `json:"reason,omitempty"`
}

// ReloadResponse says what a reload changed.
type ReloadResponse struct {
	Path          string   `json:"path"`           // the config file read
	Applied       []string `json:"applied"`        // keys that changed and are in force now
	RestartNeeded []string `json:"restart_needed"` // keys changed in the file that take effect at the next start
}

// Error is the body of every non-2xx response.
type Error struct {
	Error string `json:"error"`
}
