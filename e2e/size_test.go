package e2e

import "github.com/tlntsvr/tlntsvr/internal/pty"

// setSize resizes the client's terminal; the kernel sends the client
// SIGWINCH and it tells the server (NAWS).
func setSize(c *client, cols, rows int) error { return pty.SetSize(c.master, cols, rows) }
