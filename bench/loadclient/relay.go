package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The relay is the ceiling a server can reach: a network server with no
// Telnet in it. For each connection it reads a file name (one line),
// runs `cat FILE` on a PTY as the benchmark account, and copies the
// master to the socket as it comes, a blocking 32 KiB read then a write,
// with no escaping, no batching and no poller on the PTY side; it waits
// for cat and closes the connection, so the client reads to EOF and the
// relay's CPU time (cat's included, reaped) is complete by then. The
// client reads it with no decoding. Unlike the bare PTY it has what every
// server has: a socket, loopback TCP and a reader in another process.

// relayServe is `loadclient relay ADDR USER`: it serves until killed.
func relayServe(args []string) error {
	if len(args) != 2 {
		usage()
	}
	cred, err := credential(args[1])
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if err := relayOne(c.(*net.TCPConn), cred); err != nil {
				fmt.Fprintln(os.Stderr, "relay:", err)
			}
		}()
	}
}

func relayOne(c *net.TCPConn, cred *syscall.Credential) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("file name: %w", err)
	}
	c.SetReadDeadline(time.Time{})
	runtime.LockOSThread() // blocking reads of the master, as a C relay does
	defer runtime.UnlockOSThread()
	mfd, cmd, err := catOnPTY(strings.TrimSpace(line), cred)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	_, werr := readMaster(mfd, func(b []byte) error {
		_, err := c.Write(b)
		return err
	})
	if werr != nil {
		cmd.Process.Kill()
	}
	return errors.Join(werr, cmd.Wait())
}

// relayRun has the relay at addr cat file, reads it to the end with no
// decoding and returns the time and the bytes that arrived.
func relayRun(addr, file string, timeout time.Duration) (time.Duration, int64, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	c.SetDeadline(start.Add(timeout))
	if _, err := io.WriteString(c, file+"\n"); err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := c.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return time.Since(start), n, nil
		}
		if err != nil {
			return 0, n, err
		}
	}
}
