package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

// fixture is a Store over files in a temporary directory, with a clock
// the test moves by hand.
type fixture struct {
	t             *testing.T
	users, groups string
	store         *Store
	mu            sync.Mutex
	clock         time.Time
	log           testutil.LockedBuffer
	mtime         time.Time // last mtime given to a file
}

func newFixture(t *testing.T, users, groups string, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{
		t:      t,
		users:  filepath.Join(dir, "users"),
		groups: filepath.Join(dir, "groups"),
		clock:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		mtime:  time.Now().Add(-time.Hour),
	}
	f.write(f.users, users)
	f.write(f.groups, groups)
	opts.UsersFile, opts.GroupsFile = f.users, f.groups
	opts.Logger = slog.New(slog.NewTextHandler(&f.log, nil))
	s, err := NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.clock
	}
	s.lastCheck = f.clock
	f.store = s
	return f
}

// write replaces a file's content in place and moves its mtime on, as an
// editor saving twice within a second could not be relied on to.
func (f *fixture) write(path, content string) {
	f.t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
	f.mtime = f.mtime.Add(2 * time.Second)
	if err := os.Chtimes(path, f.mtime, f.mtime); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

func (f *fixture) auth(user, password string) (Identity, error) {
	return f.store.Authenticate(context.Background(), user, password)
}

// mustAuth checks that user logs on with password, as want.
func (f *fixture) mustAuth(user, password string, want Identity) {
	f.t.Helper()
	got, err := f.auth(user, password)
	if err != nil || got != want {
		f.t.Fatalf("Authenticate(%q) = %+v, %v; want %+v", user, got, err, want)
	}
}

func (f *fixture) mustFail(user, password string, want error) {
	f.t.Helper()
	got, err := f.auth(user, password)
	if !errors.Is(err, want) || got != (Identity{}) {
		f.t.Fatalf("Authenticate(%q) = %+v, %v; want %v", user, got, err, want)
	}
}

func userLine(t *testing.T, name, password string, rest ...string) string {
	return strings.Join(append([]string{name, testHash(t, password, bcrypt.MinCost)}, rest...), ":") + "\n"
}

func TestAuthenticate(t *testing.T) {
	users := userLine(t, "alice", "alicepw") +
		userLine(t, "bob", "bobpw", "robert") +
		userLine(t, "root", "rootpw") +
		userLine(t, "both", "bothpw") +
		userLine(t, "outsider", "outsiderpw") +
		userLine(t, "josé", "josépw") +
		userLine(t, "nopw", "")
	groups := "telnet-clients: alice bob both josé nopw\nadministrators: root both\nother: outsider\n"
	f := newFixture(t, users, groups, Options{})

	tests := []struct {
		name, user, password string
		want                 Identity
		wantErr              error
	}{
		{"client", "alice", "alicepw", Identity{User: "alice", OSAccount: "alice"}, nil},
		{"os account", "bob", "bobpw", Identity{User: "bob", OSAccount: "robert"}, nil},
		{"admin", "root", "rootpw", Identity{User: "root", OSAccount: "root", Admin: true}, nil},
		{"in both groups", "both", "bothpw", Identity{User: "both", OSAccount: "both", Admin: true}, nil},
		{"non-ASCII name", "josé", "josépw", Identity{User: "josé", OSAccount: "josé"}, nil},
		{"wrong password", "alice", "bobpw", Identity{}, ErrBadCredentials},
		{"empty password", "alice", "", Identity{}, ErrBadCredentials},
		{"hash of the empty password in the file", "nopw", "", Identity{}, ErrBadCredentials},
		{"password prefix", "alice", "alicep", Identity{}, ErrBadCredentials},
		{"unknown user", "mallory", "alicepw", Identity{}, ErrBadCredentials},
		{"case matters", "Alice", "alicepw", Identity{}, ErrBadCredentials},
		{"invalid name", "-f root", "rootpw", Identity{}, ErrBadCredentials},
		{"path name", "../alice", "alicepw", Identity{}, ErrBadCredentials},
		{"NUL name", "alice\x00", "alicepw", Identity{}, ErrBadCredentials},
		{"empty name", "", "", Identity{}, ErrBadCredentials},
		{"huge name", strings.Repeat("a", 1<<20), "x", Identity{}, ErrBadCredentials},
		{"huge password", "alice", strings.Repeat("a", 1<<20), Identity{}, ErrBadCredentials},
		{"1025-byte password", "alice", "alicepw" + strings.Repeat("x", 1018), Identity{}, ErrBadCredentials},
		{"not a member", "outsider", "outsiderpw", Identity{}, ErrNotMember},
		// Membership is only told to someone who knows the password.
		{"not a member, wrong password", "outsider", "alicepw", Identity{}, ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.auth(tt.user, tt.password)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("Authenticate(%.20q) = %+v, %v; want %+v, %v", tt.user, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if ErrBadCredentials.Error() != "login incorrect" {
		t.Fatalf("ErrBadCredentials = %q", ErrBadCredentials)
	}
}

func TestAuthenticateOtherGroupNames(t *testing.T) {
	users := userLine(t, "alice", "pw") + userLine(t, "root", "pw")
	groups := "telnet-clients: alice root\nstaff: alice\nwheel: root\n"
	f := newFixture(t, users, groups, Options{ClientsGroup: "staff", AdminsGroup: "wheel"})
	f.mustAuth("alice", "pw", Identity{User: "alice", OSAccount: "alice"})
	f.mustAuth("root", "pw", Identity{User: "root", OSAccount: "root", Admin: true})

	// A live change of group names: alice is no longer let in.
	if err := f.store.SetOptions(Options{UsersFile: f.users, GroupsFile: f.groups, ClientsGroup: "wheel", AdminsGroup: "nobody"}); err != nil {
		t.Fatal(err)
	}
	f.mustFail("alice", "pw", ErrNotMember)
	f.mustAuth("root", "pw", Identity{User: "root", OSAccount: "root"})
}

// TestOneComparison: whatever the name, Authenticate makes exactly one
// bcrypt comparison: a known user's at the cost of their hash, an unknown
// or invalid name's at one of the costs in the file (the one the name maps
// to), so the time taken does not tell an unknown or invalid name from a
// known one.
func TestOneComparison(t *testing.T) {
	const cost = bcrypt.MinCost + 1 // neither MinCost nor DefaultCost, so a wrong dummy shows
	users := "alice:" + testHash(t, "alicepw", cost) + "\n" +
		"bob:" + testHash(t, "bobpw", cost) + "\n" +
		"carol:" + testHash(t, "carolpw", bcrypt.MinCost) + "\n" // a minority cost
	f := newFixture(t, users, "telnet-clients: alice carol\n", Options{})
	var mu sync.Mutex
	var costs []int
	f.store.compare = func(hash, password []byte) error {
		c, err := bcrypt.Cost(hash)
		if err != nil {
			t.Errorf("compare called with a malformed hash: %v", err)
		}
		mu.Lock()
		costs = append(costs, c)
		mu.Unlock()
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	const unknown = 0 // want: the cost the name maps to
	tests := []struct {
		name, user, password string
		wantErr              error
		wantCost             int
	}{
		{"known user", "alice", "alicepw", nil, cost},
		{"wrong password", "alice", "x", ErrBadCredentials, cost},
		{"known non-member", "bob", "bobpw", ErrNotMember, cost},
		{"known user, minority cost", "carol", "carolpw", nil, bcrypt.MinCost},
		{"wrong password, minority cost", "carol", "x", ErrBadCredentials, bcrypt.MinCost},
		{"unknown user", "mallory", "x", ErrBadCredentials, unknown},
		{"unknown user, a known password", "mallory", "alicepw", ErrBadCredentials, unknown},
		{"invalid name", "-f root", "x", ErrBadCredentials, unknown},
		{"traversal", "../x", "x", ErrBadCredentials, unknown},
		{"NUL", "\x00", "x", ErrBadCredentials, unknown},
		{"65-byte name", strings.Repeat("a", 65), "x", ErrBadCredentials, unknown},
		{"empty name", "", "", ErrBadCredentials, unknown},
		{"password too long", "alice", strings.Repeat("x", MaxPasswordLen+1), ErrBadCredentials, cost},
		{"password too long, minority cost", "carol", strings.Repeat("x", MaxPasswordLen+1), ErrBadCredentials, bcrypt.MinCost},
		{"unknown user, password too long", "mallory", strings.Repeat("x", MaxPasswordLen+1), ErrBadCredentials, unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.wantCost
			if want == unknown {
				want = f.store.state.Load().dummy.costFor(tt.user)
				if want != cost && want != bcrypt.MinCost {
					t.Fatalf("%q maps to cost %d, not a cost in the file", tt.user, want)
				}
			}
			mu.Lock()
			costs = nil
			mu.Unlock()
			_, err := f.auth(tt.user, tt.password)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(costs) != 1 || costs[0] != want {
				t.Fatalf("comparisons at costs %v, want exactly one at cost %d", costs, want)
			}
		})
	}
}

// TestUnknownNamesFollowFileCosts: unknown names are checked at the costs
// of the users file in the proportions the real accounts have them, and a
// given name always at the same cost, so neither one name's time nor the
// spread of many names' times tells unknown names from real ones. (Checked
// at the file's most common cost only, a real user with a minority cost
// stood out.)
func TestUnknownNamesFollowFileCosts(t *testing.T) {
	want := map[int]int{4: 1, 5: 2, 6: 1} // cost: users
	var users strings.Builder
	total := 0
	for c, n := range want {
		for range n {
			fmt.Fprintf(&users, "user%d:%s\n", total, testHash(t, "pw", c))
			total++
		}
	}
	f := newFixture(t, users.String(), "telnet-clients:\n", Options{})
	var last int
	f.store.compare = func(hash, password []byte) error {
		c, err := bcrypt.Cost(hash)
		if err != nil {
			t.Fatalf("compare called with a malformed hash: %v", err)
		}
		last = c
		return bcrypt.ErrMismatchedHashAndPassword // no need to spend the time
	}
	costOf := func(name string) int {
		last = 0
		f.mustFail(name, "x", ErrBadCredentials)
		return last
	}

	const names = 4000
	got := map[int]int{}
	first := map[string]int{}
	for i := range names {
		name := fmt.Sprintf("nobody%d", i)
		c := costOf(name)
		got[c]++
		if i < 100 {
			first[name] = c
		}
	}
	for c, n := range want {
		// Binomial: the standard deviation is at most sqrt(names)/2 ≈ 32,
		// so 150 is over 4.5 of them.
		expect := names * n / total
		if d := got[c] - expect; d < -150 || d > 150 {
			t.Errorf("cost %d: %d of %d unknown names, want about %d (costs in the file %v, got %v)", c, got[c], names, expect, want, got)
		}
	}
	for c := range got {
		if want[c] == 0 {
			t.Errorf("%d unknown names checked at cost %d, which no user has", got[c], c)
		}
	}

	// The same name, the same cost: asked again, and after a reload.
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	for name, c := range first {
		if again := costOf(name); again != c {
			t.Errorf("%q checked at cost %d, then at %d", name, c, again)
		}
	}
}

func TestStoreReload(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "old"), "telnet-clients: alice\n", Options{})
	f.mustAuth("alice", "old", Identity{User: "alice", OSAccount: "alice"})

	// Explicit Reload picks up a change at once.
	f.write(f.users, userLine(t, "alice", "new")+userLine(t, "bob", "bobpw"))
	f.write(f.groups, "telnet-clients: alice bob\n")
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	f.mustFail("alice", "old", ErrBadCredentials)
	f.mustAuth("alice", "new", Identity{User: "alice", OSAccount: "alice"})
	f.mustAuth("bob", "bobpw", Identity{User: "bob", OSAccount: "bob"})

	// Without Reload, a change is seen once a second has passed, not before.
	f.write(f.users, userLine(t, "alice", "newer"))
	f.advance(500 * time.Millisecond)
	f.mustAuth("alice", "new", Identity{User: "alice", OSAccount: "alice"})
	f.advance(600 * time.Millisecond)
	f.mustAuth("alice", "newer", Identity{User: "alice", OSAccount: "alice"})
	f.mustFail("bob", "bobpw", ErrBadCredentials)

	// The groups file alone.
	f.write(f.groups, "administrators: alice\n")
	f.advance(time.Second)
	f.mustAuth("alice", "newer", Identity{User: "alice", OSAccount: "alice", Admin: true})
}

func TestStoreKeepsLastGoodCopy(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "pw"), "telnet-clients: alice\n", Options{})
	good := Identity{User: "alice", OSAccount: "alice"}

	// An invalid users file: Reload says where, the old one stays in use.
	f.write(f.users, userLine(t, "alice", "pw2")+"bob:$apr1$x$y\n")
	err := f.store.Reload()
	want := f.users + `:2: user "bob": MD5 ($apr1$) hash: only bcrypt hashes are accepted; create the line with htpasswd -B`
	if err == nil || err.Error() != want {
		t.Fatalf("Reload() = %v\nwant %s", err, want)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("Reload error is not a *ParseError for line 2: %#v", err)
	}
	f.mustAuth("alice", "pw", good)
	f.mustFail("alice", "pw2", ErrBadCredentials)

	// Found by the periodic check: logged once, not every second.
	f.write(f.groups, "telnet-clients alice\n")
	for range 3 {
		f.advance(time.Second)
		f.mustAuth("alice", "pw", good)
	}
	if n := strings.Count(f.log.String(), "keeping the last good copy"); n != 1 {
		t.Fatalf("error logged %d times, want 1:\n%s", n, f.log.String())
	}
	if !strings.Contains(f.log.String(), f.groups+":1: missing ':' after group name") {
		t.Fatalf("log does not name the groups file and line:\n%s", f.log.String())
	}

	// A file that disappears is not an empty file.
	if err := os.Remove(f.groups); err != nil {
		t.Fatal(err)
	}
	err = f.store.Reload()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "groups file "+f.groups) {
		t.Fatalf("Reload() = %v, want a not-exist error naming the groups file", err)
	}
	f.advance(time.Second)
	f.mustAuth("alice", "pw", good)

	// Fixed files are taken up again.
	f.write(f.users, userLine(t, "alice", "pw2"))
	f.write(f.groups, "telnet-clients: alice\n")
	f.advance(time.Second)
	f.mustAuth("alice", "pw2", good)
}

// A users or groups file others can write is refused at start, and at a
// reload, naming the file and the fix; a store that is running keeps its
// last good copy, so whatever another user wrote into it is never read.
func TestStoreRefusesFilesOthersCanWrite(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "pw"), "telnet-clients: alice\n", Options{})
	good := Identity{User: "alice", OSAccount: "alice"}

	for _, path := range []string{f.users, f.groups} {
		if err := os.Chmod(path, 0o646); err != nil {
			t.Fatal(err)
		}
		_, err := NewStore(Options{UsersFile: f.users, GroupsFile: f.groups})
		if err == nil || !strings.Contains(err.Error(), "chmod go-w "+path) {
			t.Errorf("NewStore with %s world-writable: %v; want a refusal naming it and the fix", path, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Another user writes themselves in, through the mode: not read.
	f.write(f.users, userLine(t, "alice", "pw")+userLine(t, "mallory", "pw"))
	f.write(f.groups, "telnet-clients: alice mallory\n")
	if err := os.Chmod(f.users, 0o646); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Reload(); err == nil || !strings.Contains(err.Error(), "users file "+f.users) {
		t.Fatalf("Reload() = %v, want the users file refused", err)
	}
	f.advance(time.Second)
	f.mustFail("mallory", "pw", ErrBadCredentials)
	f.mustAuth("alice", "pw", good)

	// Mended, it is taken up again.
	if err := os.Chmod(f.users, 0o600); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Second)
	f.mustAuth("mallory", "pw", Identity{User: "mallory", OSAccount: "mallory"})
}

// TestStoreSeesRename: a file replaced by rename with the same size and
// mtime is still seen, by its inode.
func TestStoreSeesRename(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "pw1"), "telnet-clients: alice\n", Options{})
	fi, err := os.Stat(f.users)
	if err != nil {
		t.Fatal(err)
	}
	tmp := f.users + ".tmp"
	if err := os.WriteFile(tmp, []byte(userLine(t, "alice", "pw2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.users); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Second)
	f.mustAuth("alice", "pw2", Identity{User: "alice", OSAccount: "alice"})
}

func TestStoreDummyCostFollowsFile(t *testing.T) {
	f := newFixture(t, "", "", Options{})
	costsOf := func() []int {
		d := f.store.state.Load().dummy
		for _, c := range d.costs {
			if got, err := bcrypt.Cost(d.hashes[c]); err != nil || got != c {
				t.Fatalf("dummy hash for cost %d has cost %d, %v", c, got, err)
			}
		}
		return d.costs
	}
	if got := costsOf(); !slices.Equal(got, []int{DefaultCost}) {
		t.Fatalf("dummy costs %v for an empty file, want [%d]", got, DefaultCost)
	}

	f.write(f.users, userLine(t, "alice", "pw"))
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := costsOf(); !slices.Equal(got, []int{bcrypt.MinCost}) {
		t.Fatalf("dummy costs %v, want [%d]", got, bcrypt.MinCost)
	}
	old := f.store.state.Load().dummy.hashes[bcrypt.MinCost]

	// A second cost: one more dummy; the one made already is kept.
	f.write(f.users, userLine(t, "alice", "pw")+"bob:"+testHash(t, "pw", bcrypt.MinCost+1)+"\n")
	if err := f.store.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := costsOf(); !slices.Equal(got, []int{bcrypt.MinCost, bcrypt.MinCost + 1}) {
		t.Fatalf("dummy costs %v, want [%d %d]", got, bcrypt.MinCost, bcrypt.MinCost+1)
	}
	if d := f.store.state.Load().dummy; &d.hashes[bcrypt.MinCost][0] != &old[0] {
		t.Error("the dummy hash of an unchanged cost was made again")
	}
}

func TestNewStoreErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte(userLine(t, "alice", "pw")), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("\n\nalice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no users file", Options{GroupsFile: good}, "auth: no users file given"},
		{"no groups file", Options{UsersFile: good}, "auth: no groups file given"},
		{"missing users", Options{UsersFile: missing, GroupsFile: good}, "stat users file " + missing + ": no such file or directory"},
		{"missing groups", Options{UsersFile: good, GroupsFile: missing}, "stat groups file " + missing + ": no such file or directory"},
		{"bad users", Options{UsersFile: bad, GroupsFile: good}, bad + ":3: missing ':' between user name and password hash"},
		{"bad groups", Options{UsersFile: good, GroupsFile: bad}, bad + ":3: missing ':' after group name"},
		{"directory", Options{UsersFile: dir, GroupsFile: good}, "users file " + dir + " is not a regular file"},
		{"bad clients group", Options{UsersFile: good, GroupsFile: good, ClientsGroup: "-x"}, "auth: clients group: group name starts with '-'"},
		{"bad admins group", Options{UsersFile: good, GroupsFile: good, AdminsGroup: "a:b"}, "auth: admins group: group name contains ':'"},
		{"negative pool", Options{UsersFile: good, GroupsFile: good, MaxConcurrentChecks: -1}, "auth: MaxConcurrentChecks is -1, want 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStore(tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("NewStore() = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestSetOptionsErrorChangesNothing(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "pw"), "telnet-clients: alice\n", Options{MaxConcurrentChecks: 2})
	missing := filepath.Join(t.TempDir(), "missing")
	if err := f.store.SetOptions(Options{UsersFile: missing, GroupsFile: f.groups, ClientsGroup: "other"}); err == nil {
		t.Fatal("SetOptions with a missing users file succeeded")
	}
	if err := f.store.SetOptions(Options{UsersFile: f.users, GroupsFile: f.groups, MaxConcurrentChecks: -3}); err == nil {
		t.Fatal("SetOptions with a negative pool succeeded")
	}
	f.mustAuth("alice", "pw", Identity{User: "alice", OSAccount: "alice"})
	if st := f.store.state.Load(); st.opts.UsersFile != f.users || cap(st.sem) != 2 || st.opts.ClientsGroup != DefaultClientsGroup {
		t.Fatalf("options changed by a failed SetOptions: %+v", st.opts)
	}

	// A good change of path takes effect, pool size included.
	other := filepath.Join(t.TempDir(), "users2")
	if err := os.WriteFile(other, []byte(userLine(t, "carol", "pw")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetOptions(Options{UsersFile: other, GroupsFile: f.groups, ClientsGroup: "telnet-clients", MaxConcurrentChecks: 5}); err != nil {
		t.Fatal(err)
	}
	f.mustFail("alice", "pw", ErrBadCredentials)
	f.mustFail("carol", "pw", ErrNotMember)
	if cap(f.store.state.Load().sem) != 5 {
		t.Fatal("pool size not changed")
	}
}

// TestPoolBound: no more than MaxConcurrentChecks comparisons run at
// once; the rest wait their turn, or give up when their ctx ends.
func TestPoolBound(t *testing.T) {
	const limit, callers = 2, 7
	f := newFixture(t, userLine(t, "alice", "pw"), "telnet-clients: alice\n", Options{MaxConcurrentChecks: limit})
	var running, most atomic.Int32
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	f.store.compare = func(hash, password []byte) error {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		<-release
		running.Add(-1)
		return bcrypt.ErrMismatchedHashAndPassword
	}

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := f.auth("alice", "pw")
			errs <- err
		})
	}
	for range limit {
		<-entered
	}

	// While the pool is full, a caller whose ctx ends gives up waiting,
	// with the ctx's error and without a comparison.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.store.Authenticate(ctx, "alice", "pw")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Authenticate = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := f.store.Authenticate(ctx, "alice", "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Authenticate past its deadline = %v, want context.DeadlineExceeded", err)
	}

	// Let them through one at a time: each release lets one more in.
	for i := limit; i < callers; i++ {
		release <- struct{}{}
		<-entered
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("caller: %v", err)
		}
	}
	if m := most.Load(); m != limit {
		t.Fatalf("at most %d comparisons ran at once, want %d", m, limit)
	}
	if len(entered) != 0 {
		t.Fatal("a cancelled caller ran a comparison")
	}
}

// TestConcurrentReload runs logons and reloads together, for -race.
func TestConcurrentReload(t *testing.T) {
	f := newFixture(t, userLine(t, "alice", "pw"), "telnet-clients: alice\n", Options{MaxConcurrentChecks: 4})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if _, err := f.auth("alice", "pw"); err != nil {
					t.Error(err)
					return
				}
				f.advance(time.Second)
			}
		})
	}
	for i := range 10 {
		// Replaced by rename, as tlntadmn does: rewritten in place, the
		// file could be read empty between truncation and write.
		content := "telnet-clients: alice\n"
		if i%2 == 0 {
			content = "telnet-clients: alice bob\n"
		}
		tmp := f.groups + ".tmp"
		f.write(tmp, content)
		if err := os.Rename(tmp, f.groups); err != nil {
			t.Fatal(err)
		}
		if err := f.store.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

// An unknown name costs the same after a restart (a new Store over the same
// files): its cost comes from a key kept beside the users file, 0600. With
// a per-process key, a name whose cost changed across restarts was known
// not to be a user's, whose cost is their hash's.
func TestUnknownNameCostSurvivesRestart(t *testing.T) {
	users := userLine(t, "alice", "pw") + strings.Join([]string{"bob", testHash(t, "pw", 5)}, ":") + "\n"
	f := newFixture(t, users, "telnet-clients: alice bob\n", Options{})
	keyFile := dummyKeyFile(f.users)
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want one of mode 0600", fi, err)
	}
	again, err := NewStore(Options{UsersFile: f.users, GroupsFile: f.groups})
	if err != nil {
		t.Fatal(err)
	}
	before, after := f.store.state.Load().dummy, again.state.Load().dummy
	for i := range 200 {
		name := fmt.Sprintf("nobody%d", i)
		if b, a := before.costFor(name), after.costFor(name); b != a {
			t.Fatalf("%q costs %d, and %d after a restart", name, b, a)
		}
	}

	// A key others could read is not used.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readDummyKey(keyFile); err == nil || !strings.Contains(err.Error(), "others may read it") {
		t.Errorf("a key of mode 0644: %v; want it refused", err)
	}
}

// Adding a user moves only the unknown names near a cut between costs to
// another cost; a mapping that took the hash modulo the count of users
// moved about half of them.
func TestUnknownNameCostStableWhenUserAdded(t *testing.T) {
	key := newDummyKey()
	before := &dummies{costs: []int{5, 10}, counts: []int{50, 50}, total: 100, key: key}
	after := &dummies{costs: []int{5, 10}, counts: []int{50, 51}, total: 101, key: key}
	moved := 0
	const names = 10000
	for i := range names {
		name := fmt.Sprintf("nobody%d", i)
		if before.costFor(name) != after.costFor(name) {
			moved++
		}
	}
	// The cut moves from 0.5 to 50/101 ≈ 0.495: about 0.5 % of the names.
	if moved > names/50 {
		t.Errorf("%d of %d unknown names changed cost when one user was added; want about 50", moved, names)
	}
}

func TestAuthenticateCertificate(t *testing.T) {
	users := userLine(t, "alice", "alicepw") + userLine(t, "bob", "bobpw", "robert") +
		userLine(t, "root", "rootpw") + userLine(t, "outsider", "outsiderpw")
	f := newFixture(t, users, "telnet-clients: alice bob\nadministrators: root\n", Options{})
	for _, tc := range []struct {
		name    string
		want    Identity
		wantErr error
	}{
		{"alice", Identity{User: "alice", OSAccount: "alice"}, nil},
		{"bob", Identity{User: "bob", OSAccount: "robert"}, nil},
		{"root", Identity{User: "root", OSAccount: "root", Admin: true}, nil},
		{"outsider", Identity{}, ErrNotMember},
		{"mallory", Identity{}, ErrBadCredentials},
		{"-f root", Identity{}, ErrBadCredentials},
		{"", Identity{}, ErrBadCredentials},
	} {
		got, err := f.store.AuthenticateCertificate(tc.name)
		if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("AuthenticateCertificate(%q) = %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
