package serve_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/server"
)

func TestVetReload(t *testing.T) {
	dir := t.TempDir()
	empty := cmdtest.WriteFile(t, dir, "empty.yaml", "\n  \n", 0o600)
	commented := cmdtest.WriteFile(t, dir, "commented.yaml", "# accounts to come\n", 0o600)
	full := filepath.Join(dir, "proxy.yaml")
	on := config.Account{Name: "a", Enabled: true}
	off := config.Account{Name: "a", Enabled: false}
	key := []config.ClientKey{{Name: "laptop", Key: "pk-0123456789"}}
	loopback := &config.Config{Listen: "127.0.0.1:8787"}
	exposed := &config.Config{Listen: "0.0.0.0:8787", ClientKeys: key}
	tests := []struct {
		name    string
		running *config.Config
		next    *config.Config
		wantIs  error  // nil: accepted
		wantMsg string // part of the error
	}{
		{name: "accounts on loopback without keys", running: loopback, next: &config.Config{Path: full, Accounts: []config.Account{on}}},
		{name: "an empty file", running: loopback, next: &config.Config{Path: empty},
			wantIs: serve.ErrReloadNoAccount, wantMsg: "config " + empty + " is empty"},
		{name: "no accounts", running: loopback, next: &config.Config{Path: commented},
			wantIs: serve.ErrReloadNoAccount, wantMsg: "config " + commented + " has no accounts"},
		{name: "no config file", running: loopback, next: &config.Config{},
			wantIs: serve.ErrReloadNoAccount, wantMsg: "no config file found"},
		{name: "every account disabled", running: loopback, next: &config.Config{Path: full, Accounts: []config.Account{off, off}},
			wantIs: serve.ErrReloadNoAccount, wantMsg: "every account in " + full + " is disabled (enabled: false)"},
		{name: "one account of two enabled", running: loopback, next: &config.Config{Path: full, Accounts: []config.Account{off, on}}},
		{name: "keys removed while exposed", running: exposed, next: &config.Config{Path: full, Accounts: []config.Account{on}},
			wantIs: server.ErrExposed, wantMsg: "0.0.0.0:8787"},
		{name: "keys rotated while exposed", running: exposed, next: &config.Config{Path: full, Accounts: []config.Account{on}, ClientKeys: []config.ClientKey{{Name: "new", Key: "pk-new-0123456789"}}}},
		{name: "keys removed on loopback", running: &config.Config{Listen: "127.0.0.1:8787", ClientKeys: key}, next: &config.Config{Path: full, Accounts: []config.Account{on}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := serve.VetReload(tt.running, tt.next)
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("vetReload = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("vetReload = %v, want %v with %q", err, tt.wantIs, tt.wantMsg)
			}
		})
	}
}
