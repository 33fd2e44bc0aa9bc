package server

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestStatusFor checks that a failed message or kill gets its status from
// what went wrong, whatever words the client's own target held.
func TestStatusFor(t *testing.T) {
	_, badTarget := parseTarget("did not take the message")
	_, noSessionTarget := parseTarget("no session 4")
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"unknown session", fmt.Errorf("%w %d", errNoSession, 4), http.StatusNotFound},
		{"client not reading", fmt.Errorf("session 4 %w within 1s", errNotTaken), http.StatusGatewayTimeout},
		{"stream-mode session", fmt.Errorf("session 4 %w", errStreamMode), http.StatusConflict},
		{"target with the words of a timeout", badTarget, http.StatusBadRequest},
		{"target with the words of an unknown session", noSessionTarget, http.StatusBadRequest},
		{"empty message", errors.New("message text: empty"), http.StatusBadRequest},
	}
	for _, c := range cases {
		if got := statusFor(c.err); got != c.want {
			t.Errorf("%s (%v): status %d, want %d", c.name, c.err, got, c.want)
		}
	}
	if got := fmt.Errorf("%w %d", errNoSession, 4).Error(); got != "no session 4" {
		t.Errorf("unknown session reads %q, want %q", got, "no session 4")
	}
}
