package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// logonRate is `loadclient logonrate`: whole logons (connect, user name,
// password, shell prompt, close) by several clients at once for a while,
// each connection from its own loopback address; it prints logons per
// second. Run against tlntsvr with users files of different bcrypt costs,
// it shows what a logon costs the host.
func logonRate(args []string) error {
	fs := flag.NewFlagSet("logonrate", flag.ExitOnError)
	addr := fs.String("server", "", "HOST:PORT")
	user := fs.String("user", "", "account to log on as")
	password := fs.String("password", "", "its password")
	parallel := fs.Int("parallel", 8, "logons in flight at once")
	dur := fs.Duration("for", 5*time.Second, "how long to keep logging on")
	label := fs.String("label", "", "what the printed line calls this run")
	fs.Parse(args)
	if *addr == "" || *user == "" {
		return fmt.Errorf("logonrate: --server and --user are required")
	}
	var ok, failed atomic.Int64
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	start := time.Now()
	stopAt := start.Add(*dur)
	var wg sync.WaitGroup
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				k := next.Add(1)
				src := fmt.Sprintf("127.2.%d.%d", k/200%250, k%200+1)
				t, _, _, err := logon(*addr, src, *user, *password, 30*time.Second)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				t.Close()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("%s: %.1f logons/s (%d in %.1f s, %d in flight, %d failed)\n", *label, float64(ok.Load())/el.Seconds(),
		ok.Load(), el.Seconds(), *parallel, failed.Load())
	if firstErr != nil {
		return fmt.Errorf("logonrate: first failure: %w", firstErr)
	}
	return nil
}
