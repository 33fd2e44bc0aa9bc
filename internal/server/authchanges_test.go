package server

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/auth"
	"github.com/tlntsvr/tlntsvr/internal/logescape"
	"github.com/tlntsvr/tlntsvr/internal/testutil"
)

func hashOf(t *testing.T, password string) string {
	t.Helper()
	h, err := auth.HashPasswordCost(password, 4)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rewrite replaces a file's content, moving its mtime on so that the
// store sees the change whatever the filesystem's timestamp granularity.
func rewrite(t *testing.T, path, content string) {
	t.Helper()
	old, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := old.ModTime().Add(2 * time.Second)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// jsonNames is names as a decoded JSON record holds them.
func jsonNames(names ...string) []any {
	out := []any{}
	for _, n := range names {
		out = append(out, n)
	}
	return out
}

// A users or groups file changed under the daemon is audited by name,
// whether a reload (SIGHUP, tlntadmn) or a logon's look at the files puts
// it in force; the hashes never are, and content that did not change
// makes no record.
func TestAuthFileChangesAudited(t *testing.T) {
	h1, h2 := hashOf(t, "one"), hashOf(t, "two")
	srv, audit := newTestServer(t, "alice:"+h1+"\nbob:"+h1+"\ncarol:"+h1+"\n",
		"telnet-clients: alice bob\nadministrators: carol\n", "")
	cfg := writeConfigFile(t, srv, "")
	if n := countEvents(audit, "users_changed") + countEvents(audit, "groups_changed"); n != 0 {
		t.Fatalf("%d change records at start; want none:\n%s", n, audit)
	}

	// tlntadmn user passwd / del / add, or htpasswd -B, then a reload.
	rewrite(t, cfg.UsersFile, "alice:"+h2+"\ncarol:"+h1+":root\ndave:"+h1+"\n")
	if _, err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	rec := waitRecords(t, audit, "users_changed", 1)[0]
	want := map[string]any{"file": cfg.UsersFile, "added": jsonNames("dave"), "removed": jsonNames("bob"),
		"password_changed": jsonNames("alice"), "os_account_changed": jsonNames("carol")}
	for k, v := range want {
		if !reflect.DeepEqual(rec[k], v) {
			t.Errorf("users_changed %s = %v; want %v", k, rec[k], v)
		}
	}
	if rec["level"] != "INFO" || rec["msg"] != "users file changed" {
		t.Errorf("users_changed record %v", rec)
	}
	if strings.Contains(audit.String(), "$2y$") {
		t.Errorf("a hash in the audit trail:\n%s", audit)
	}

	// The same content again: touched and reloaded, nothing recorded.
	now := time.Now()
	if err := os.Chtimes(cfg.UsersFile, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(audit, "users_changed"); n != 1 {
		t.Errorf("%d users_changed records after a reload of the same file; want 1:\n%s", n, audit)
	}

	// The groups file edited by hand while nobody reloads: the next
	// logon's look at the files, a second on, puts it in force.
	rewrite(t, cfg.GroupsFile, "telnet-clients: alice dave\nops: carol\n")
	time.Sleep(1100 * time.Millisecond)
	if _, err := srv.store.AuthenticateCertificate("alice"); err != nil {
		t.Fatal(err)
	}
	recs := waitRecords(t, audit, "groups_changed", 3)
	type group struct{ change, added, removed any }
	got := map[any]group{}
	for _, r := range recs {
		if r["file"] != cfg.GroupsFile || r["msg"] != "groups file changed" {
			t.Errorf("groups_changed record %v", r)
		}
		got[r["group"]] = group{r["change"], r["added"], r["removed"]}
	}
	wantGroups := map[any]group{
		"administrators": {"group_removed", jsonNames(), jsonNames("carol")},
		"ops":            {"group_added", jsonNames("carol"), jsonNames()},
		"telnet-clients": {"members", jsonNames("dave"), jsonNames("bob")},
	}
	if !reflect.DeepEqual(got, wantGroups) {
		t.Errorf("groups_changed records %v; want %v", got, wantGroups)
	}
	if n := countEvents(audit, "users_changed"); n != 1 {
		t.Errorf("%d users_changed records; want 1", n)
	}
}

// The names go through the audit log's escaping as every other field
// does, and a long list is cut, with its length beside it.
func TestAuthFileChangesEscapedAndBounded(t *testing.T) {
	h := hashOf(t, "pw")
	srv, _ := newTestServer(t, "", "telnet-clients:\n", "")
	writeConfigFile(t, srv, "")
	audit := &testutil.LockedBuffer{}
	srv.audit = slog.New(logescape.NewHandler(slog.NewJSONHandler(audit, nil)))

	var users strings.Builder
	users.WriteString(`back\x1bslash:` + h + "\n")
	for i := range 150 {
		fmt.Fprintf(&users, "u%03d:%s\n", i, h)
	}
	rewrite(t, srv.Config().UsersFile, users.String())
	if _, err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	rec := waitRecords(t, audit, "users_changed", 1)[0]
	added, _ := rec["added"].([]any)
	if len(added) != auth.MaxChangeNames || rec["added_total"] != float64(151) {
		t.Fatalf("added: %d names, added_total %v; want %d and 151", len(added), rec["added_total"], auth.MaxChangeNames)
	}
	if added[0] != `back\\x1bslash` || added[1] != "u000" || added[99] != "u098" {
		t.Errorf("added = %v...; want the escaped name first, then u000..u098", added[:3])
	}
}
