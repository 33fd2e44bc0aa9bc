package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// scale is `loadclient scale`: one daemon, many logged-on sessions, each
// from its own loopback address (bench/scale.sh, make bench-scale). It
// times the echo of one session with no others open, opens them all,
// measures the daemon's memory and the echo again, has every session run
// a command, closes them and times the teardown; it prints each figure
// with the target of issue 19 and whether it held.
func scale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	var o options
	fs.Var(&o.servers, "server", "NAME=HOST:PORT,pid=PID,daemon=COMM (one)")
	fs.StringVar(&o.user, "user", "", "account to log on as")
	fs.StringVar(&o.password, "password", "", "its password")
	fs.IntVar(&o.conc, "sessions", 10000, "sessions to open")
	fs.IntVar(&o.concParallel, "parallel", 50, "logons in flight at once")
	fs.IntVar(&o.echo, "echo", 2000, "keystrokes timed, with none and with all open")
	fs.DurationVar(&o.hold, "hold", 0, "keep the sessions open this long after measuring them (to look at the daemon)")
	fs.DurationVar(&o.concBudget, "budget", 0, "time allowed to open the sessions (0: 60s + 60ms per session)")
	fs.Parse(args)
	if len(o.servers) != 1 || o.user == "" {
		return fmt.Errorf("scale: one --server and --user are required")
	}
	o.answerAll = true
	s := o.servers[0]
	res := &results{Errors: map[string][]string{}, errCount: map[string]int{}}

	t, _, _, err := logon(s.Addr, "", o.user, o.password, 30*time.Second)
	if err != nil {
		return fmt.Errorf("scale: first logon: %w", err)
	}
	lat, err := t.echoLatency(o.echo, time.Minute)
	t.Close()
	if err != nil {
		return fmt.Errorf("scale: echo with none open: %w", err)
	}
	idle50, idle99 := us(percentile(lat, 0.5)), us(percentile(lat, 0.99))
	time.Sleep(2 * time.Second) // that session's processes go
	c := concurrency(&o, res, s)

	kib := c.daemonKiBPerSession()
	w := os.Stdout
	fmt.Fprintf(w, "tlntsvr at scale, %s; load average before the logons %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadavg())
	fmt.Fprintln(w, "| figure | value | target | holds |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	fmt.Fprintf(w, "| sessions logged on | %d of %d in %.1f s | all | %s |\n", c.OK, c.Want, c.Elapsed.Seconds(), verdictOf(c.OK == c.Want))
	fmt.Fprintf(w, "| daemon PSS per session (KiB) | %s | ≤ 40 | %s |\n", cell("%.1f", kib), verdictOf(kib >= 0 && kib <= 40))
	fmt.Fprintf(w, "| daemon PSS, all open (MiB) | %.1f | | |\n", float64(c.DaemonAt.PSS)/(1<<20))
	fmt.Fprintf(w, "| daemon + session processes PSS per session (KiB) | %s | | |\n",
		cell("%.0f", float64(c.DaemonAt.PSS-c.DaemonBase.PSS+c.SessionsAt.PSS)/1024/float64(max(c.OK, 1))))
	fmt.Fprintf(w, "| echo p50, none open → all open (µs) | %.0f → %s | | |\n", idle50, cell("%.0f", c.EchoP50))
	fmt.Fprintf(w, "| echo p99, none open → all open (µs) | %.0f → %s | all ≤ 2 × none | %s |\n", idle99, cell("%.0f", c.EchoP99),
		verdictOf(c.EchoP99 >= 0 && c.EchoP99 <= 2*idle99))
	fmt.Fprintf(w, "| sessions that answered a command, all open | %d of %d | all | %s |\n", c.Answered, c.OK, verdictOf(c.OK > 0 && c.Answered == c.OK))
	fmt.Fprintf(w, "| all clients gone → last session process gone (s) | %s | ≤ 10 | %s |\n", cell("%.1f", c.Teardown.Seconds()),
		verdictOf(c.Teardown >= 0 && c.Teardown <= 10*time.Second))
	for _, e := range res.Errors[s.Name] {
		fmt.Fprintln(w, "\nerror:", e)
	}
	return nil
}
