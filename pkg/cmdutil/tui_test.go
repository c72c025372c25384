package cmdutil_test

import (
	"path/filepath"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

func TestTUILogPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_STATE_HOME", map[string]string{"XDG_STATE_HOME": "/state"}, filepath.Join("/state", "proxy", "serve.log")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cmdutil.TUILogPath(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
