// Package deploy holds the files tlntsvr installs beside its binaries, so
// that "tlntsvr install" writes the same systemd units and logrotate file as
// the package and "make install" do.
package deploy

import _ "embed"

// Unit is the systemd unit, deploy/systemd/tlntsvr.service.
//
//go:embed systemd/tlntsvr.service
var Unit string

// Socket is the socket unit for socket activation,
// deploy/systemd/tlntsvr.socket. It names no path, so every install writes
// it as it is.
//
//go:embed systemd/tlntsvr.socket
var Socket string

// Logrotate rotates the audit log, deploy/logrotate/tlntsvr.
//
//go:embed logrotate/tlntsvr
var Logrotate string

// The paths Unit names, which an install elsewhere replaces.
const (
	UnitBinary = "/usr/sbin/tlntsvr"
	UnitConfig = "/etc/tlntsvr/tlntsvr.yaml"
)
