//go:build !linux

package protocol

import (
	"errors"
	"syscall"
)

// Urgent data is handled on Linux only (urgent_linux.go). Elsewhere a
// Synch's IAC DM is parsed like any other command and Abort Output's
// answer goes out unmarked.

func watchUrgent(syscall.RawConn) (*urgentFlag, uint64) { return nil, 0 }

func unwatchUrgent(syscall.RawConn, *urgentFlag) {}

func forgetUrgent(uint64) {}

func urgentPending(syscall.RawConn) bool { return false }

func sendUrgent(syscall.RawConn, byte) error { return errors.ErrUnsupported }
