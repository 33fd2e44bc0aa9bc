package server

import (
	"os"
	"testing"

	"github.com/tlntsvr/tlntsvr/internal/session"
)

func TestMain(m *testing.M) {
	// Sessions re-execute this test binary as their incubator.
	session.RunIncubatorIfRequested()
	os.Exit(m.Run())
}
