package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/admin"
)

// loadSessions is how many logged-on sessions the load test holds
// (TLNTSVR_LOAD_SESSIONS overrides it).
func loadSessions() int {
	if n, err := strconv.Atoi(os.Getenv("TLNTSVR_LOAD_SESSIONS")); err == nil && n > 0 {
		return n
	}
	return 500
}

// The daemon holds hundreds of logged-on sessions, each running a shell,
// while a login flood and an IAC flood go on; every session stays
// responsive (echo round trip measured), and when they all end nothing is
// left: processes, descriptors, goroutines.
func TestLoad(t *testing.T) {
	needRoot(t)
	n := loadSessions()
	d := startDaemon(t, daemonOpts{noRace: true, extraConfig: fmt.Sprintf(
		"max_connections: %d\nlockout: {attempts: 0, window: 1m, duration: 1m}\n", n+100)})
	client := admin.NewClient(filepath.Join(d.dir, "admin.sock"))
	status := func() admin.Status {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	base := status()
	baseRSS := d.rss(t)
	start := time.Now()

	// Log on n sessions, 16 at a time, from 32 loopback addresses (the
	// daemon caps pending logons per address).
	conns := make([]*rawConn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := dialRaw(t, d, fmt.Sprintf("127.0.%d.%d", 10+i%32/8, 1+i%8))
			r.logon()
			conns[i] = r
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	logonTime := time.Since(start)
	st := status()
	if st.Sessions != n {
		t.Fatalf("%d sessions registered, want %d", st.Sessions, n)
	}
	fullRSS := d.rss(t)

	// Floods, bounded in time, while every session is asked to echo.
	floodCtx, stopFloods := context.WithTimeout(context.Background(), 60*time.Second)
	defer stopFloods()
	var floods sync.WaitGroup
	var loginAttempts, iacFloodConns atomic.Int64
	for f := 0; f < 4; f++ { // login flood: wrong passwords, 4 connections at a time
		floods.Add(1)
		go func() {
			defer floods.Done()
			for i := 0; floodCtx.Err() == nil && i < 2000; i++ {
				nc, err := net.DialTimeout("tcp", d.addr, time.Second)
				if err != nil {
					continue
				}
				nc.Write([]byte{255, 252, 24, 255, 252, 31, 255, 252, 39})
				nc.Write([]byte("mallory\r\nwrong\r\nmallory\r\nwrong\r\nmallory\r\nwrong\r\n"))
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				for {
					if _, err := nc.Read(buf); err != nil {
						break
					}
				}
				nc.Close()
				loginAttempts.Add(3)
			}
		}()
	}
	for f := 0; f < 4; f++ { // IAC floods: AYT and option flip-flops
		floods.Add(1)
		go func() {
			defer floods.Done()
			chunk := []byte{}
			for i := 0; i < 4096; i++ {
				chunk = append(chunk, iac, ayt, iac, will, optTTYPE, iac, wont, optTTYPE, iac, do, byte(i), iac, nop)
			}
			// Flood, get cut off, come back: bounded by floodCtx.
			for floodCtx.Err() == nil {
				nc, err := net.DialTimeout("tcp", d.addr, time.Second)
				if err != nil {
					continue
				}
				for floodCtx.Err() == nil {
					nc.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := nc.Write(chunk); err != nil {
						break
					}
				}
				nc.Close()
				iacFloodConns.Add(1)
			}
		}()
	}

	// Measure once the floods are under way: the first wrong passwords
	// have been answered and a flooder has been cut off.
	for deadline := time.Now().Add(30 * time.Second); loginAttempts.Load() < 12 || iacFloodConns.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatalf("the floods did not get going: %d wrong passwords answered, %d flood connections cut off", loginAttempts.Load(), iacFloodConns.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	rtts := make([]time.Duration, n)
	for round := 0; round < 2; round++ {
		for i, r := range conns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t0 := time.Now()
				r.sendString(fmt.Sprintf("echo E%d=$((%d+1))\r", round, i))
				r.expect(fmt.Sprintf("E%d=%d", round, i+1))
				rtts[i] = max(rtts[i], time.Since(t0))
			}()
		}
		wg.Wait()
	}
	stopFloods()
	floods.Wait()
	d.alive(t)
	slices.Sort(rtts)
	p50, p99 := rtts[len(rtts)/2], rtts[len(rtts)*99/100]
	perSession := (fullRSS - baseRSS) / int64(n)
	t.Logf("LOAD sessions=%d logon_all=%v echo_p50=%v echo_p99=%v (under login flood of %d attempts and IAC floods over %d connections) daemon_rss_base=%dKiB daemon_rss_full=%dKiB daemon_per_session=%dKiB",
		n, logonTime.Round(time.Millisecond), p50.Round(time.Microsecond), p99.Round(time.Microsecond), loginAttempts.Load(),
		iacFloodConns.Load(), baseRSS>>10, fullRSS>>10, perSession>>10)
	writeLoadReport(t, fmt.Sprintf("sessions held: %d\nall logged on in: %v\necho round trip under flood: p50 %v, p99 %v\nlogin flood: %d wrong-password attempts; IAC floods: 4 flooders, %d connections cut off\ndaemon RSS: %d KiB idle, %d KiB with all sessions: %d KiB per session\n",
		n, logonTime.Round(time.Millisecond), p50.Round(time.Microsecond), p99.Round(time.Microsecond), loginAttempts.Load(),
		iacFloodConns.Load(), baseRSS>>10, fullRSS>>10, perSession>>10))

	// End every session and check nothing is left.
	for _, r := range conns {
		r.nc.Close()
	}
	waitFor(t, "every session to end", func() bool { return status().Sessions == 0 && status().Connections == 0 })
	waitFor(t, "every session process to end", func() bool { return pgrepCount(osAlice, "") == 0 })
	waitFor(t, "descriptors and goroutines back to their idle level", func() bool {
		st := status()
		return st.OpenFiles <= base.OpenFiles+2 && st.Goroutines <= base.Goroutines+5
	})
	if out, _ := exec.Command("ps", "-o", "stat=", "--ppid", strconv.Itoa(d.cmd.Process.Pid)).Output(); strings.Contains(string(out), "Z") {
		t.Errorf("zombie children of the daemon:\n%s", out)
	}
}

// writeLoadReport leaves the figures where docs/performance.md can quote
// them from (TLNTSVR_LOAD_REPORT names the file).
func writeLoadReport(t *testing.T, s string) {
	if p := os.Getenv("TLNTSVR_LOAD_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Error(err)
		}
	}
}
