package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrNotRunning says no daemon answers on the socket.
var ErrNotRunning = errors.New("tlntsvr is not running")

// Client talks to a daemon's admin socket.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a client for the admin socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{Socket: path, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request with an optional JSON body and decodes the JSON answer
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// The host part is ignored on a Unix socket; it names the daemon for
	// logs and proxies.
	req, err := http.NewRequestWithContext(ctx, method, "http://tlntsvr"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.connectError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", c.Socket, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer to %s %s: %w", method, path, err)
	}
	return nil
}

// Status returns the daemon's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, &s)
	return s, err
}

// Sessions lists the logged-on sessions.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var s []Session
	err := c.do(ctx, http.MethodGet, PathSessions, nil, &s)
	return s, err
}

// Message sends text to the sessions named by target; it returns how many
// took it (Count), how many did not in time (Unreached: their clients are
// not reading; each still gets it if its client reads again) and how many
// are in stream mode and were not sent it (StreamMode).
func (c *Client) Message(ctx context.Context, target Target, text string) (CountResponse, error) {
	var r CountResponse
	err := c.do(ctx, http.MethodPost, PathMessage, MessageRequest{Target: target, Text: text}, &r)
	return r, err
}

// Kill ends the sessions named by target, telling them message first.
func (c *Client) Kill(ctx context.Context, target Target, message string) (int, error) {
	var r CountResponse
	err := c.do(ctx, http.MethodPost, PathKill, KillRequest{Target: target, Message: message}, &r)
	return r.Count, err
}

// Config returns every setting in force.
func (c *Client) Config(ctx context.Context) (ConfigResponse, error) {
	var r ConfigResponse
	err := c.do(ctx, http.MethodGet, PathConfig, nil, &r)
	return r, err
}

// SetConfig changes settings, writing them to the config file and applying
// what can be applied live.
func (c *Client) SetConfig(ctx context.Context, changes []Setting) (ConfigChangeResponse, error) {
	var r ConfigChangeResponse
	err := c.do(ctx, http.MethodPost, PathConfig, ConfigChangeRequest{Changes: changes}, &r)
	return r, err
}

// Pause stops the daemon accepting new connections; sessions go on.
func (c *Client) Pause(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, PathPause, nil, nil)
}

// Continue resumes accepting connections.
func (c *Client) Continue(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, PathContinue, nil, nil)
}

// Reload makes the daemon re-read its config, users and groups files.
func (c *Client) Reload(ctx context.Context, reason string) error {
	return c.do(ctx, http.MethodPost, PathReload, ReloadRequest{Reason: reason}, nil)
}

// ReloadChanges is Reload returning what changed.
func (c *Client) ReloadChanges(ctx context.Context, reason string) (ReloadResponse, error) {
	var r ReloadResponse
	err := c.do(ctx, http.MethodPost, PathReload, ReloadRequest{Reason: reason}, &r)
	return r, err
}

// Shadow opens the stream of session id's output (PathShadow). Closing
// the stream, or cancelling ctx, stops watching.
func (c *Client) Shadow(ctx context.Context, id int) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://tlntsvr"+ShadowPath(id), nil)
	if err != nil {
		return nil, err
	}
	// No overall timeout: the stream lasts as long as the watching.
	hc := &http.Client{Transport: c.hc.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.connectError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("GET %s: %s", ShadowPath(id), resp.Status)
	}
	return resp.Body, nil
}

// connectError says why a request did not reach the daemon.
func (c *Client) connectError(err error) error {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w (no daemon answers on %s)", ErrNotRunning, c.Socket)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("connect to %s: permission denied: tlntadmn needs root or membership of the daemon's admin_os_group", c.Socket)
	}
	return fmt.Errorf("connect to %s: %w", c.Socket, err)
}
