package session

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// CannotStartMessage is all a client is told when its session cannot be
// started, whatever the reason: the reason is in the daemon's log.
const CannotStartMessage = "Access denied: a session cannot be started for this account."

const (
	// reportMax bounds what of the incubator's stderr is kept for the
	// log (a Go crash with every goroutine's stack can be long).
	reportMax = 16 << 10
	// readyTimeout bounds the wait for the incubator to become the
	// account: a few system calls, but on a loaded host a fresh process
	// can take a while to be scheduled.
	readyTimeout = 20 * time.Second
	// reportWait bounds the wait, once the incubator has exited, for what
	// it wrote: the pipe is at EOF by then, only our reader may lag.
	reportWait = time.Second
)

// incubatorReport is what the incubator wrote on its stderr, which is a
// pipe to the daemon until just before it execs the shell. Nothing is
// written there when all goes well.
type incubatorReport struct {
	done chan struct{} // closed at EOF: the shell was exec'd or the incubator exited
	text string        // valid once done is closed
}

// readReport reads the incubator's stderr until EOF, in the background,
// and logs whatever was written there.
func readReport(r *os.File, log *slog.Logger) *incubatorReport {
	rep := &incubatorReport{done: make(chan struct{})}
	go func() {
		defer close(rep.done)
		defer r.Close()
		b, _ := io.ReadAll(io.LimitReader(r, reportMax))
		io.Copy(io.Discard, r)
		rep.text = strings.TrimSpace(string(b))
		if rep.text != "" {
			log.Error("the session process failed before it started the shell", "report", rep.text)
		}
	}()
	return rep
}

// failed reports whether the incubator reported a failure, waiting
// (briefly) for its report to be read. Call it once the incubator or the
// shell has exited.
func (r *incubatorReport) failed() bool {
	if r == nil {
		return false
	}
	t := time.NewTimer(reportWait)
	defer t.Stop()
	select {
	case <-r.done:
		return r.text != ""
	case <-t.C:
		return false
	}
}

// summary is the report's first line, for an error message; the whole of
// it is logged by readReport.
func (r *incubatorReport) summary() string {
	line, _, _ := strings.Cut(r.text, "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "it reported nothing"
	}
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}

// waitReady waits for the incubator's byte on readyFD, which it sends once
// it has become the account, just before the login script and the shell.
func waitReady(r *os.File) error {
	r.SetReadDeadline(time.Now().Add(readyTimeout))
	var b [1]byte
	n, err := r.Read(b[:])
	switch {
	case n == 1:
		return nil
	case errors.Is(err, io.EOF):
		return errors.New("it exited")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("it did not get ready in time")
	}
	return err
}

// testHookIncubatorStarted, when set (by tests), is called with the
// incubator's PID as soon as it has been started, before it is sent its
// spec.
var testHookIncubatorStarted func(pid int)
