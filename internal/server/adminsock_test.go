package server

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// nobodyID is the uid and gid of the account nobody: an owner that is
// neither root nor the test.
func nobodyID(t *testing.T) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it gives files to another account (make test runs as root)")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("no account nobody: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// The admin socket is not opened where another user could replace it (or
// turn the daemon's chown and chmod onto a file of their choice).
func TestAdminSocketRefusesDirectoriesOthersControl(t *testing.T) {
	uid, gid := nobodyID(t)
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, base string) string // returns the socket's directory
		want  string
	}{
		{"directory of another user", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			mustMkdir(t, d, 0o750)
			mustChown(t, d, uid, gid)
			return d
		}, "belongs to uid"},
		{"group-writable directory", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			mustMkdir(t, d, 0o770)
			return d
		}, "writable by group or others"},
		{"under a directory of another user", func(t *testing.T, base string) string {
			p := filepath.Join(base, "p")
			mustMkdir(t, p, 0o755)
			mustChown(t, p, uid, gid)
			d := filepath.Join(p, "d")
			mustMkdir(t, d, 0o750)
			return d
		}, "belongs to uid"},
		{"through a symlink of another user", func(t *testing.T, base string) string {
			d := filepath.Join(base, "d")
			mustMkdir(t, d, 0o750)
			l := filepath.Join(base, "link")
			if err := os.Symlink(d, l); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(l, uid, gid); err != nil {
				t.Fatal(err)
			}
			return l
		}, "belongs to uid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.setup(t, t.TempDir())
			ln, err := listenAdmin(filepath.Join(dir, "admin.sock"), "")
			if err == nil {
				ln.Close()
				t.Fatal("listenAdmin accepted the directory")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "/run/tlntsvr") {
				t.Errorf("error %q: want it to say %q and where to put the socket instead", err, c.want)
			}
		})
	}
}

// A directory the daemon makes, or one that holds only its socket (what
// systemd's RuntimeDirectory gives it), goes to the admin group so that
// its members can reach the socket; a shared directory keeps its group.
func TestAdminSocketDirectoryGroup(t *testing.T) {
	_, gid := nobodyID(t)
	group, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	made := filepath.Join(base, "made")
	runtimeDir := filepath.Join(base, "runtime")
	mustMkdir(t, runtimeDir, 0o750)
	shared := filepath.Join(base, "shared")
	mustMkdir(t, shared, 0o755)
	if err := os.WriteFile(filepath.Join(shared, "other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir       string
		wantGroup int
	}{{made, gid}, {runtimeDir, gid}, {shared, os.Getegid()}} {
		sock := filepath.Join(c.dir, "admin.sock")
		ln, err := listenAdmin(sock, group.Name)
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		if g := groupOf(t, c.dir); g != c.wantGroup {
			t.Errorf("%s: group %d, want %d", c.dir, g, c.wantGroup)
		}
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if g := groupOf(t, sock); g != gid || fi.Mode().Perm() != 0o660 {
			t.Errorf("socket: group %d mode %v, want group %d mode 0660", g, fi.Mode().Perm(), gid)
		}
		ln.Close()
	}
}

func mustMkdir(t *testing.T, d string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func mustChown(t *testing.T, p string, uid, gid int) {
	t.Helper()
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
}

func groupOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Gid)
}

// Root, the daemon's own user and members of admin_os_group may use the
// admin socket; nobody else.
func TestAdminAuthorized(t *testing.T) {
	uid, gid := nobodyID(t)
	group, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatal(err)
	}
	nobody := peer{UID: uint32(uid), GID: uint32(gid), Name: "nobody"}
	for _, c := range []struct {
		name       string
		p          peer
		adminGroup string
		daemonUID  int
		want       bool
	}{
		{"root", peer{UID: 0}, "", 0, true},
		{"another user", nobody, "", 0, false},
		{"the daemon's own user", nobody, "", uid, true},
		{"a member of admin_os_group", nobody, group.Name, 0, true},
		{"admin_os_group that does not exist", nobody, "no-such-group-tlnt", 0, false},
	} {
		if got := authorized(c.p, c.adminGroup, c.daemonUID); got != c.want {
			t.Errorf("%s: authorized = %v, want %v", c.name, got, c.want)
		}
	}
}
