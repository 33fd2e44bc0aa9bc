package systemdunit

import "testing"

func TestParseState(t *testing.T) {
	tests := []struct {
		out     string
		want    State
		wantErr bool
	}{
		{"LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n", State{"loaded", "activating", "auto-restart"}, false},
		{"ActiveState=active\nSubState=running\nLoadState=loaded\n", State{"loaded", "active", "running"}, false},
		{"LoadState=not-found\nActiveState=inactive\nSubState=dead\n", State{"not-found", "inactive", "dead"}, false},
		{"", State{}, true},
	}
	for _, tt := range tests {
		got, err := ParseState(tt.out)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseState(%q) = %+v, %v; want %+v, error %v", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}
