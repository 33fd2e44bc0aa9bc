package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/config"
	"github.com/tlntsvr/tlntsvr/internal/session"
	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
)

// checkRootOnly refuses, for a peer other than root, changes to the
// settings only root may change (config.RootOnly), naming them and what
// the peer may change.
func checkRootOnly(p peer, changes []admin.Setting) error {
	if p.UID == 0 {
		return nil
	}
	var refused []string
	for _, c := range changes {
		if config.RootOnly(c.Key) && !slices.Contains(refused, c.Key) {
			refused = append(refused, c.Key)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	var allowed []string
	for _, k := range config.Keys() {
		if !config.RootOnly(k) {
			allowed = append(allowed, k)
		}
	}
	return fmt.Errorf("permission denied: only root may change %s (who logs on as whom, what runs, what the daemon opens); %s (uid %d) may change %s",
		strings.Join(refused, ", "), p.Name, p.UID, strings.Join(allowed, ", "))
}

// ServeAdmin opens the admin socket and serves the admin API on it until
// Shutdown. It returns once the socket is listening.
func (s *Server) ServeAdmin() error {
	cfg := s.Config()
	ln, err := listenAdmin(cfg.AdminSocket, cfg.AdminOSGroup)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s.adminHandler(),
		ConnContext:       connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	s.mu.Lock()
	s.adminSrv = hs
	s.mu.Unlock()
	s.log.Info("admin socket listening", "path", cfg.AdminSocket)
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin socket stopped", "err", err)
		}
	}()
	return nil
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+admin.PathStatus, s.handleStatus)
	mux.HandleFunc("GET "+admin.PathSessions, s.handleSessions)
	mux.HandleFunc("POST "+admin.PathMessage, s.handleMessage)
	mux.HandleFunc("POST "+admin.PathKill, s.handleKill)
	mux.HandleFunc("GET "+admin.PathConfig, s.handleConfig)
	mux.HandleFunc("POST "+admin.PathConfig, s.handleSetConfig)
	mux.HandleFunc("POST "+admin.PathPause, s.handlePause(true))
	mux.HandleFunc("POST "+admin.PathContinue, s.handlePause(false))
	mux.HandleFunc("POST "+admin.PathReload, s.handleReload)
	mux.HandleFunc("GET "+admin.PathShadow, s.handleShadow)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := peerOf(r.Context())
		if !authorized(p, s.Config().AdminOSGroup, os.Geteuid()) {
			s.audit.Warn("admin request refused", "event", "admin_refused", "peer_uid", p.UID,
				"peer_user", p.Name, "peer_pid", p.PID, "method", r.Method, "path", r.URL.Path)
			msg := fmt.Sprintf("permission denied: user %s (uid %d) is not root", p.Name, p.UID)
			if g := s.Config().AdminOSGroup; g != "" {
				msg += " and not a member of the admin group " + g
			} else {
				msg += " (no admin_os_group is configured)"
			}
			writeError(w, http.StatusForbidden, msg)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		mux.ServeHTTP(w, r)
	})
}

// auditAdmin records an admin action: who, from which uid, what, result.
func (s *Server) auditAdmin(r *http.Request, action string, err error, attrs ...any) {
	p := peerOf(r.Context())
	result := "ok"
	if err != nil {
		result = err.Error()
	}
	args := append([]any{"event", "admin", "action", action, "peer_user", p.Name, "peer_uid", p.UID,
		"peer_pid", p.PID, "result", result}, attrs...)
	s.audit.Info("admin action", args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, admin.Error{Error: msg})
}

func readJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// Pause stops new connections (they are told and closed); sessions and
// logons in progress go on. Continue undoes it.
func (s *Server) Pause(on bool) { s.paused.Store(on) }

// Paused reports whether new connections are refused.
func (s *Server) Paused() bool { return s.paused.Load() }

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	var listen []string
	for _, a := range s.Addrs() {
		listen = append(listen, a.String())
	}
	writeJSON(w, http.StatusOK, admin.Status{
		Version: s.Version, PID: os.Getpid(), Started: s.started, Paused: s.Paused(),
		Sessions: s.sessions.Len(), Connections: int(s.active.Load()),
		ConfigPath: s.Config().Path, Listen: listen,
		Goroutines: runtime.NumGoroutine(), OpenFiles: openFiles(),
	})
}

// openFiles counts the daemon's open file descriptors (-1 if unknown).
func openFiles() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es) - 1 // the directory being read
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	out := []admin.Session{}
	for _, si := range s.sessions.List() {
		out = append(out, admin.Session{
			ID: si.ID, User: si.User, OSAccount: si.OSAccount, Remote: si.Remote, Proxy: si.Proxy,
			LogonTime: si.LogonTime, LastActivity: si.LastActivity,
			IdleSeconds: int64(now.Sub(si.LastActivity) / time.Second),
			Term:        si.Term, Cols: si.Cols, Rows: si.Rows, PID: si.PID,
			TLS: si.TLS, Recording: si.Recording,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// parseTarget reads a session ID or "all" (0).
func parseTarget(t string) (int, error) {
	if strings.EqualFold(t, "all") {
		return 0, nil
	}
	id, err := strconv.Atoi(t)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("session %q: want a session ID (a number from tlntadmn sessions) or all", t)
	}
	return id, nil
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	var req admin.MessageRequest
	err := readJSON(r, &req)
	var id, n int
	if err == nil {
		id, err = parseTarget(req.Target)
	}
	if err == nil {
		err = admin.CheckMessage("message text", req.Text, false)
	}
	var found, stream int
	if err == nil {
		found, n, stream = s.sessions.Message(id, messageText(req.Text))
		switch {
		case found == 0 && id != 0:
			err = fmt.Errorf("%w %d", errNoSession, id)
		case stream > 0 && id != 0:
			err = fmt.Errorf("session %d %w: its client gets nothing but its program's output", id, errStreamMode)
		case n == 0 && id != 0:
			err = fmt.Errorf("session %d %w within %v: its client is not reading (it gets the message if it reads again)", id, errNotTaken, noticeTimeout)
		}
	}
	s.auditAdmin(r, "message", err, "target", req.Target, "sessions", n, "unreached", found-n-stream, "stream_mode", stream)
	if err != nil {
		writeError(w, statusFor(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, admin.CountResponse{Count: n, Unreached: found - n - stream, StreamMode: stream})
}

// messageText frames an admin's message as Windows does, and keeps it to
// printable text: it goes straight to users' terminals.
func messageText(text string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, text)
	return "Message from the Telnet server administrator:\r\n" + strings.ReplaceAll(clean, "\n", "\r\n")
}

func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	var req admin.KillRequest
	err := readJSON(r, &req)
	var id, n int
	if err == nil {
		id, err = parseTarget(req.Target)
	}
	if err == nil {
		err = admin.CheckMessage("kill message", req.Message, true)
	}
	if err == nil {
		why := "Your session was ended by the Telnet server administrator."
		if m := strings.TrimSpace(req.Message); m != "" {
			why += "\r\n" + strings.TrimPrefix(messageText(m), "Message from the Telnet server administrator:\r\n")
		}
		n = s.sessions.End(id, why, session.ErrKilled) // every process, whatever end_tasks_on_disconnect says
		if n == 0 && id != 0 {
			err = fmt.Errorf("%w %d", errNoSession, id)
		}
	}
	s.auditAdmin(r, "kill", err, "target", req.Target, "sessions", n)
	if err != nil {
		writeError(w, statusFor(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, admin.CountResponse{Count: n})
}

// errNoSession, errNotTaken and errStreamMode mark the message and kill
// errors that are not the request's fault, so that statusFor can tell
// them from bad input by what they are rather than by their words (a
// target is the client's text, and can contain any words).
var (
	errNoSession  = errors.New("no session")
	errNotTaken   = errors.New("did not take the message")
	errStreamMode = errors.New("is in stream mode and is sent no messages")
)

// statusFor is the HTTP status of a message or kill request that failed.
func statusFor(err error) int {
	switch {
	case errors.Is(err, errNoSession):
		return http.StatusNotFound
	case errors.Is(err, errNotTaken):
		return http.StatusGatewayTimeout
	case errors.Is(err, errStreamMode):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	cfg := s.Config()
	resp := admin.ConfigResponse{Path: cfg.Path}
	for _, st := range cfg.Settings() {
		resp.Settings = append(resp.Settings, admin.Setting{Key: st.Key, Value: st.Value})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleSetConfig(w http.ResponseWriter, r *http.Request) {
	var req admin.ConfigChangeRequest
	var resp admin.ConfigChangeResponse
	err := readJSON(r, &req)
	if err == nil {
		err = checkRootOnly(peerOf(r.Context()), req.Changes)
	}
	if err == nil {
		resp, err = s.ChangeConfig(req.Changes)
	}
	var keys []string
	for _, c := range req.Changes {
		keys = append(keys, c.Key+"="+c.Value)
	}
	s.auditAdmin(r, "config", err, "changes", keys, "also_applied", resp.AlsoApplied)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// ChangeConfig writes changes to the config file (keeping its comments)
// and puts them in force, except the settings that need a restart.
func (s *Server) ChangeConfig(changes []admin.Setting) (admin.ConfigChangeResponse, error) {
	s.cfgMu.Lock() // one edit of the file at a time
	defer s.cfgMu.Unlock()
	old := s.Config()
	if old.Path == "" {
		return admin.ConfigChangeResponse{}, errors.New("the daemon was started without a config file; nothing to write to")
	}
	if len(changes) == 0 {
		return admin.ConfigChangeResponse{}, errors.New("no changes given; want key=value")
	}
	var cs []config.Setting
	for _, c := range changes {
		cs = append(cs, config.Setting{Key: c.Key, Value: c.Value})
	}
	data, err := os.ReadFile(old.Path)
	if err != nil {
		return admin.ConfigChangeResponse{}, err
	}
	out, next, err := config.Edit(data, old.Path, cs)
	if err != nil {
		return admin.ConfigChangeResponse{}, err
	}
	if err := next.CheckHost(); err != nil {
		return admin.ConfigChangeResponse{}, fmt.Errorf("not changed: %w", err)
	}
	inForce := next.WithStartSettings(old)
	// The users and groups settings are tried before the file is written:
	// a file the daemon could not start with is never left behind.
	if err := s.store.SetOptions(AuthOptions(inForce, s.log)); err != nil {
		return admin.ConfigChangeResponse{}, fmt.Errorf("not changed: %w", err)
	}
	// So is the certificate: a tls.cert_file that does not load is never
	// written to the file.
	tlsBefore := s.tls.Load()
	restore := func() {
		s.tls.Store(tlsBefore)
		if rerr := s.store.SetOptions(AuthOptions(old, s.log)); rerr != nil {
			s.log.Error("config change: the users and groups settings could not be restored", "err", rerr)
		}
	}
	if err := s.reloadTLS(inForce); err != nil {
		restore()
		return admin.ConfigChangeResponse{}, fmt.Errorf("not changed: %w", err)
	}
	if err := trustedfile.WriteAtomic(old.Path, out); err != nil {
		restore()
		return admin.ConfigChangeResponse{}, fmt.Errorf("not changed: %w", err)
	}
	s.SetConfig(inForce)

	resp := admin.ConfigChangeResponse{Path: old.Path}
	for _, c := range changes {
		if config.NeedsRestart(c.Key) {
			if !slices.Contains(resp.RestartNeeded, c.Key) {
				resp.RestartNeeded = append(resp.RestartNeeded, c.Key)
			}
		} else if !slices.Contains(resp.Applied, c.Key) {
			resp.Applied = append(resp.Applied, c.Key)
		}
	}
	// The whole file went in: edits made to it by hand since the last
	// reload are in force now too, and the admin must be told which.
	changed, _ := changedKeys(old, next)
	for _, k := range changed {
		if !slices.Contains(resp.Applied, k) {
			resp.AlsoApplied = append(resp.AlsoApplied, k)
		}
	}
	return resp, nil
}

// AuthOptions is what the auth store needs of the settings.
func AuthOptions(cfg *config.Config, log *slog.Logger) auth.Options {
	return auth.Options{UsersFile: cfg.UsersFile, GroupsFile: cfg.GroupsFile,
		ClientsGroup: cfg.ClientsGroup, AdminsGroup: cfg.AdminsGroup, Logger: log}
}

func (s *Server) handlePause(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.Pause(on)
		action := "continue"
		if on {
			action = "pause"
		}
		s.auditAdmin(r, action, nil)
		writeJSON(w, http.StatusOK, struct{}{})
	}
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	var req admin.ReloadRequest
	var res ReloadResult
	err := readJSON(r, &req)
	if err == nil {
		res, err = s.Reload()
	}
	s.auditAdmin(r, "reload", err, "reason", req.Reason, "applied", res.Applied, "restart_needed", res.RestartNeeded)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, admin.ReloadResponse{Path: res.Path, Applied: res.Applied, RestartNeeded: res.RestartNeeded})
}
