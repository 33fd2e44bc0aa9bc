package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
	"golang.org/x/crypto/bcrypt"
)

// Default group names, used when Options leaves them empty.
const (
	DefaultClientsGroup = "telnet-clients"
	DefaultAdminsGroup  = "administrators"
)

// checkInterval is how often Authenticate looks at the files' metadata.
const checkInterval = time.Second

// Options configures a Store. The zero values of the group names and of
// MaxConcurrentChecks mean their defaults.
type Options struct {
	UsersFile, GroupsFile     string
	ClientsGroup, AdminsGroup string
	// MaxConcurrentChecks bounds the bcrypt comparisons running at once,
	// so a logon flood cannot take every CPU; 0 means runtime.NumCPU().
	MaxConcurrentChecks int
	Logger              *slog.Logger // may be nil
}

// normalise validates opts and fills in defaults, on a copy.
func (opts Options) normalise() (Options, error) {
	if opts.UsersFile == "" {
		return opts, errors.New("auth: no users file given")
	}
	if opts.GroupsFile == "" {
		return opts, errors.New("auth: no groups file given")
	}
	if opts.ClientsGroup == "" {
		opts.ClientsGroup = DefaultClientsGroup
	}
	if opts.AdminsGroup == "" {
		opts.AdminsGroup = DefaultAdminsGroup
	}
	if err := ValidateGroupName(opts.ClientsGroup); err != nil {
		return opts, fmt.Errorf("auth: clients group: %w", err)
	}
	if err := ValidateGroupName(opts.AdminsGroup); err != nil {
		return opts, fmt.Errorf("auth: admins group: %w", err)
	}
	switch {
	case opts.MaxConcurrentChecks < 0:
		return opts, fmt.Errorf("auth: MaxConcurrentChecks is %d, want 0 or more", opts.MaxConcurrentChecks)
	case opts.MaxConcurrentChecks == 0:
		opts.MaxConcurrentChecks = runtime.NumCPU()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts, nil
}

// Store owns the users and groups files and checks logons against them.
//
// It re-reads a file when its mtime, size or inode changes (looked at, at
// most once per checkInterval, by Authenticate) and on Reload. When a
// changed file is invalid it keeps the last good copy: an error in a file
// being edited must not lock everybody out. All methods are safe for
// concurrent use.
type Store struct {
	state atomic.Pointer[state] // what Authenticate reads, replaced whole

	mu        sync.Mutex // serialises loading; guards the fields below
	usersID   fileID     // the version last tried, good or bad
	groupsID  fileID
	lastCheck time.Time

	dummyKey []byte // picks an unknown name's dummy cost; kept beside the users file

	// onWait, when set, is told how long each check waited for a slot
	// in the bcrypt pool (the daemon's metrics).
	onWait atomic.Pointer[func(time.Duration)]
	// onChange, when set, is told what each load changed (the daemon's
	// audit trail).
	onChange atomic.Pointer[func(Change)]

	// Set by NewStore, replaced by tests before any concurrent use.
	compare func(hash, password []byte) error
	now     func() time.Time
}

// state is immutable once published.
type state struct {
	opts   Options
	sem    chan struct{} // bcrypt pool slots
	users  *UsersFile
	groups *GroupsFile
	dummy  *dummies // what an unknown user's password is checked against
}

// fileID identifies one version of a file without reading it.
type fileID struct {
	missing   bool // stat failed
	size      int64
	mtime     int64
	dev, ino  uint64
	mode      fs.FileMode
	statError string
}

func idOf(fi fs.FileInfo) fileID {
	dev, ino := sysID(fi)
	return fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), dev: dev, ino: ino, mode: fi.Mode()}
}

// NewStore loads both files now; an error names the file and, for a
// syntax error, the line.
func NewStore(opts Options) (*Store, error) {
	s := &Store{compare: bcrypt.CompareHashAndPassword, now: time.Now}
	opts, err := opts.normalise()
	if err != nil {
		return nil, err
	}
	s.dummyKey = loadDummyKey(dummyKeyFile(opts.UsersFile), opts.Logger)
	st := &state{opts: opts, sem: make(chan struct{}, opts.MaxConcurrentChecks)}
	if err := s.loadAll(st); err != nil {
		return nil, err
	}
	s.state.Store(st)
	s.lastCheck = s.now()
	return s, nil
}

// Reload re-reads both files, whether or not they look changed (a file
// edited twice within the filesystem's timestamp granularity looks the
// same). On error the last good copy of that file stays in use; the error
// is returned, not logged.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastCheck = s.now()
	return s.refreshLocked(true)
}

// SetOptions applies a configuration change: new paths, group names, pool
// size or logger. It reloads both files; on any error nothing changes.
// Checks already running or waiting keep the pool they started with.
func (s *Store) SetOptions(opts Options) error {
	opts, err := opts.normalise()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.state.Load()
	st := &state{opts: opts, sem: cur.sem, dummy: cur.dummy}
	if opts.MaxConcurrentChecks != cur.opts.MaxConcurrentChecks {
		st.sem = make(chan struct{}, opts.MaxConcurrentChecks)
	}
	if err := s.loadAll(st); err != nil {
		return err
	}
	s.state.Store(st)
	s.lastCheck = s.now()
	s.tellChanges(cur, st)
	return nil
}

// loadAll reads both files into st. Called with s.mu held, or before s is shared.
func (s *Store) loadAll(st *state) error {
	users, uid, err := loadFile(st.opts.UsersFile, "users", ParseUsers)
	if err != nil {
		return err
	}
	groups, gid, err := loadFile(st.opts.GroupsFile, "groups", ParseGroups)
	if err != nil {
		return err
	}
	if err := st.setUsers(users, s.dummyKey); err != nil {
		return err
	}
	st.groups = groups
	s.usersID, s.groupsID = uid, gid
	return nil
}

// setUsers installs users with the dummy hashes for their costs.
func (st *state) setUsers(users *UsersFile, key []byte) error {
	d, err := makeDummies(users, key, st.dummy)
	if err != nil {
		return err
	}
	st.users, st.dummy = users, d
	return nil
}

// statFile returns the version of the file at path; it refuses anything
// but a regular file (a FIFO would block the reader for ever).
func statFile(path, kind string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		err = fileError("stat", kind, path, err)
		return fileID{missing: true, statError: err.Error()}, err
	}
	if !fi.Mode().IsRegular() {
		err := fmt.Errorf("%s file %s is not a regular file", kind, path)
		return fileID{missing: true, statError: err.Error()}, err
	}
	return idOf(fi), nil
}

// fileError rewrites "open /x: denied" as "open users file /x: denied".
func fileError(op, kind, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s file %s: %w", pe.Op, kind, path, pe.Err)
	}
	return fmt.Errorf("%s %s file %s: %w", op, kind, path, err)
}

func loadFile[T any](path, kind string, parse func(io.Reader, string) (T, error)) (T, fileID, error) {
	var zero T
	id, err := statFile(path, kind)
	if err != nil {
		return zero, id, err
	}
	// Whoever can change the file decides who logs on as which account:
	// one that others can write is never read (see trustedfile.CheckFile).
	// Its version is recorded as tried, so it is judged again when it, or
	// its mode, changes.
	if err := trustedfile.CheckFile(path); err != nil {
		return zero, id, fmt.Errorf("%s file %s: others can change it, refused: %w", kind, path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return zero, fileID{missing: true, statError: err.Error()}, fileError("open", kind, path, err)
	}
	defer f.Close()
	// A file rewritten in place (htpasswd copies its temporary file over
	// the original) can be caught half written: read again while it
	// changes under us. Whatever is read, the version recorded is the one
	// seen before reading, so a later write is noticed at the next check.
	var v T
	var perr error
	for attempt := 1; ; attempt++ {
		before, err := f.Stat()
		if err != nil {
			return zero, id, fileError("stat", kind, path, err)
		}
		id = idOf(before)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return zero, id, fileError("seek", kind, path, err)
		}
		v, perr = parse(f, path)
		after, err := f.Stat()
		if err != nil || idOf(after) == id || attempt == 3 {
			break
		}
	}
	if perr != nil {
		return zero, id, perr
	}
	return v, id, nil
}

// maybeRefresh re-reads changed files, at most once per checkInterval.
// A logon never waits for another goroutine's reload: it goes on with
// the copy in use.
func (s *Store) maybeRefresh() {
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.lastCheck) < checkInterval {
		return
	}
	s.lastCheck = now
	if err := s.refreshLocked(false); err != nil {
		s.state.Load().opts.Logger.Error("auth file changed but cannot be used; keeping the last good copy", "err", err)
	}
}

// refreshLocked re-reads the files that changed since last tried (all of
// them when force) and publishes what loaded. Called with s.mu held.
func (s *Store) refreshLocked(force bool) error {
	cur := s.state.Load()
	next := *cur
	logger := cur.opts.Logger
	var errs []error
	changed := false

	// A stat error is part of the id (a file that goes missing, or comes
	// back, is a change); loadFile stats again and reports it.
	if id, _ := statFile(cur.opts.UsersFile, "users"); force || id != s.usersID {
		var users *UsersFile
		var err error
		users, s.usersID, err = loadFile(cur.opts.UsersFile, "users", ParseUsers)
		if err == nil {
			err = next.setUsers(users, s.dummyKey)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			changed = true
			logger.Info("users file loaded", "file", cur.opts.UsersFile, "users", users.Len())
		}
	}
	if id, _ := statFile(cur.opts.GroupsFile, "groups"); force || id != s.groupsID {
		var groups *GroupsFile
		var err error
		groups, s.groupsID, err = loadFile(cur.opts.GroupsFile, "groups", ParseGroups)
		if err != nil {
			errs = append(errs, err)
		} else {
			next.groups = groups
			changed = true
			logger.Info("groups file loaded", "file", cur.opts.GroupsFile, "groups", len(groups.order))
		}
	}
	if changed {
		s.state.Store(&next)
		s.tellChanges(cur, &next)
	}
	return errors.Join(errs...)
}

// ObserveChanges has f told, each time a users or groups file is put in
// force that differs from the copy it replaces (found changed, reloaded,
// or named by SetOptions), what changed: one call per file, users first,
// never when only comments, order or nothing changed, and not for the
// load of NewStore. f is called with the store's loading lock held, so
// in the order of the loads, and must not call the Store.
func (s *Store) ObserveChanges(f func(Change)) { s.onChange.Store(&f) }

// tellChanges tells the observer, if any, how next differs from prev.
// Called with s.mu held, after next is published.
func (s *Store) tellChanges(prev, next *state) {
	f := s.onChange.Load()
	if f == nil {
		return
	}
	if prev.users != next.users {
		if c := DiffUsers(prev.users, next.users); !c.Empty() {
			(*f)(Change{Users: &c})
		}
	}
	if prev.groups != next.groups {
		if c := DiffGroups(prev.groups, next.groups); !c.Empty() {
			(*f)(Change{Groups: &c})
		}
	}
}

// Authenticate checks a logon. It returns ErrBadCredentials for an
// invalid or unknown user name and for a wrong password alike, after the
// same single bcrypt comparison; ErrNotMember, only once the password is
// known right, for a user in neither group; ctx's error when ctx ends
// while waiting for a slot in the bcrypt pool.
func (s *Store) Authenticate(ctx context.Context, name, password string) (Identity, error) {
	s.maybeRefresh()
	st := s.state.Load()

	hash, pw := st.dummy.forName(name), []byte(password)
	var user User
	known := false
	if ValidateUsername(name) == nil {
		user, known = st.users.Lookup(name)
	}
	switch {
	case known && len(pw) > MaxPasswordLen:
		// Refused, but at the user's own cost, as a wrong password is.
		// (st.dummy has a hash of every cost in st.users.)
		cost, _ := checkHash(user.Hash)
		hash, pw, known = st.dummy.forCost(cost), pw[:72], false // bcrypt reads no further
	case known:
		hash = []byte(user.Hash)
	case len(pw) > MaxPasswordLen:
		pw = pw[:72]
	}

	ok, err := s.check(ctx, st, hash, pw)
	if err != nil {
		return Identity{}, err
	}
	// An empty password never logs on, even where a line made by hand or
	// by another tool holds its hash (tlntadmn refuses to write one), as
	// sshd's PermitEmptyPasswords no and pam_unix without nullok do. It is
	// refused after the comparison, at the cost any wrong password has.
	if !ok || !known || password == "" {
		return Identity{}, ErrBadCredentials
	}
	admin := st.groups.IsMember(st.opts.AdminsGroup, user.Name)
	if !admin && !st.groups.IsMember(st.opts.ClientsGroup, user.Name) {
		return Identity{}, ErrNotMember
	}
	return Identity{User: user.Name, OSAccount: user.OSAccount, Admin: admin}, nil
}

// AuthenticateCertificate checks a logon by a client certificate that
// the TLS layer has verified (its CA, dates, revocation and usage): name
// is the certificate's common name. It returns ErrBadCredentials for a
// name that is not a valid user in the users file and ErrNotMember for a
// user in neither group, as Authenticate does; no password is checked, so
// no bcrypt time is spent.
func (s *Store) AuthenticateCertificate(name string) (Identity, error) {
	s.maybeRefresh()
	st := s.state.Load()
	if ValidateUsername(name) != nil {
		return Identity{}, ErrBadCredentials
	}
	user, known := st.users.Lookup(name)
	if !known {
		return Identity{}, ErrBadCredentials
	}
	admin := st.groups.IsMember(st.opts.AdminsGroup, user.Name)
	if !admin && !st.groups.IsMember(st.opts.ClientsGroup, user.Name) {
		return Identity{}, ErrNotMember
	}
	return Identity{User: user.Name, OSAccount: user.OSAccount, Admin: admin}, nil
}

// ObserveQueueWait has f told, after each wait for a slot in the bcrypt
// pool, how long it waited (0 when a slot was free).
func (s *Store) ObserveQueueWait(f func(time.Duration)) { s.onWait.Store(&f) }

// check runs one comparison in the bounded pool. Its error is ctx's only.
func (s *Store) check(ctx context.Context, st *state, hash, password []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	start := time.Now()
	select {
	case st.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-st.sem }()
	if f := s.onWait.Load(); f != nil {
		(*f)(time.Since(start))
	}
	err := s.compare(hash, password)
	if err != nil && !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		st.opts.Logger.Warn("bcrypt comparison failed", "err", err)
	}
	return err == nil, nil
}
