package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/config"
)

// ReloadResult says what a reload changed.
type ReloadResult struct {
	Path          string   // the config file read ("" when the daemon runs without one)
	Applied       []string // settings that changed and are in force now
	RestartNeeded []string // settings that changed in the file but wait for a restart
}

// Reload re-reads the config file, then the users and groups files, and puts
// them in force. Sessions are never touched: new settings apply to the next
// connection and logon, and to the idle watch of running sessions.
//
// Each file is judged on its own. A config file with any error is refused
// whole and the settings in force stay (the error lists every problem, with
// file, line and key). A users or groups file with an error keeps its last
// good copy. A config that names other users or groups files, or other group
// names, is put in force only if those files load.
//
// Settings bound at start (config.RestartKeys) stay as they are
// until a restart; they are reported in RestartNeeded while the file differs.
//
// The Lifecycle, if any, is told before and after; the metrics count it.
func (s *Server) Reload() (ReloadResult, error) {
	s.cfgMu.Lock() // not while tlntadmn config edits the file
	defer s.cfgMu.Unlock()
	if s.lifecycle != nil {
		s.lifecycle.Reloading()
	}
	res, err := s.reload()
	s.metrics.Reloaded(err, time.Now())
	if s.lifecycle != nil {
		s.lifecycle.Reloaded(err)
	}
	return res, err
}

func (s *Server) reload() (ReloadResult, error) {
	old := s.Config()
	res := ReloadResult{Path: old.Path}
	if old.Path == "" {
		err := errors.Join(s.reloadAuthFiles(), s.reloadTLS(old))
		s.logReload(res, err)
		return res, err
	}
	next, err := config.Load(old.Path)
	if err == nil {
		err = next.CheckFiles() // a file others could have written is not put in force
	}
	if err != nil {
		err = fmt.Errorf("config file refused; the settings in force stay:\n%w", err)
		if ferr := s.reloadAuthFiles(); ferr != nil {
			err = errors.Join(err, ferr)
		}
		s.logReload(res, err)
		return res, err
	}
	inForce := next.WithStartSettings(old)
	if sameAuthFiles(old, inForce) {
		err = s.reloadAuthFiles()
	} else if err = s.store.SetOptions(AuthOptions(inForce, s.log)); err != nil {
		err = fmt.Errorf("config file refused: the users and groups settings it names do not load; the settings in force stay:\n%w", err)
		if ferr := s.reloadAuthFiles(); ferr != nil {
			err = errors.Join(err, ferr)
		}
		s.logReload(res, err)
		return res, err
	}
	if terr := s.reloadTLS(inForce); terr != nil {
		// The rest of the file goes in; the TLS settings in force stay,
		// with the certificate they name.
		inForce.TLS = old.TLS
		next = next.Clone()
		next.TLS = old.TLS
		err = errors.Join(err, terr)
	}
	s.SetConfig(inForce)
	if old.MaxConnections == inForce.MaxConnections { // else SetConfig has
		// The host's limits may have changed since (sysctl, the unit).
		warnHostLimits(s.log, inForce.MaxConnections, readHostLimits(s.sessions.Len()))
	}
	res.Applied, res.RestartNeeded = changedKeys(old, next)
	if err != nil && len(res.Applied)+len(res.RestartNeeded) > 0 {
		// The config file went in while a users or groups file did
		// not: an error that said only the latter would read as if
		// nothing had changed.
		err = fmt.Errorf("the config file's changes are in force (%s), but:\n%w",
			strings.Join(slices.Concat(res.Applied, res.RestartNeeded), ", "), err)
	}
	s.logReload(res, err)
	return res, err
}

// reloadAuthFiles re-reads the users and groups files.
func (s *Server) reloadAuthFiles() error {
	if err := s.store.Reload(); err != nil {
		return fmt.Errorf("%w\n(a users or groups file with errors keeps its last good copy)", err)
	}
	return nil
}

// sameAuthFiles reports whether a and b name the same users and groups
// files and groups, so the store's options need not change.
func sameAuthFiles(a, b *config.Config) bool {
	return a.UsersFile == b.UsersFile && a.GroupsFile == b.GroupsFile &&
		a.ClientsGroup == b.ClientsGroup && a.AdminsGroup == b.AdminsGroup
}

// changedKeys compares the settings in force with those of the file just
// read, key by key.
func changedKeys(inForce, file *config.Config) (applied, restart []string) {
	was := map[string]string{}
	for _, st := range inForce.Settings() {
		was[st.Key] = st.Value
	}
	for _, st := range file.Settings() {
		if was[st.Key] == st.Value {
			continue
		}
		if config.NeedsRestart(st.Key) {
			restart = append(restart, st.Key)
		} else {
			applied = append(applied, st.Key)
		}
	}
	return applied, restart
}

func (s *Server) logReload(res ReloadResult, err error) {
	if len(res.RestartNeeded) > 0 {
		s.log.Warn("reload: these settings changed in the config file but take effect only when tlntsvr restarts",
			"config", res.Path, "restart_needed", res.RestartNeeded)
	}
	if err != nil {
		s.log.Error("reload incomplete", "config", res.Path, "applied", res.Applied, "err", err)
		return
	}
	s.log.Info("reloaded config, users and groups files", "config", res.Path, "applied", res.Applied)
}
