package server

import "github.com/tlntsvr/tlntsvr/internal/auth"

// auditAuthChange records what a new users or groups file changed, by
// name, however it came in: tlntadmn user or group, htpasswd, an editor,
// with or without a reload. The reload itself, when there is one, has its
// own record (event admin); this one says what it did to the accounts.
func (s *Server) auditAuthChange(c auth.Change) {
	switch {
	case c.Users != nil:
		s.audit.Info("users file changed", append([]any{"event", "users_changed"}, c.Users.Attrs()...)...)
	case c.Groups != nil:
		for _, rec := range c.Groups.Records() {
			s.audit.Info("groups file changed", append([]any{"event", "groups_changed"}, rec...)...)
		}
	}
}
