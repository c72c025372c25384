package initcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
)

func TestConfigInit(t *testing.T) {
	tests := []struct {
		name     string
		existing string // "" : no file yet
		args     []string
		want     int
		wantErr  string
		wantFile string
	}{
		{name: "writes the starter", wantFile: config.Starter()},
		{name: "refuses to overwrite", existing: "mine\n", want: cmdutil.ExitFailure, wantErr: "already exists; use --force", wantFile: "mine\n"},
		{name: "overwrites with --force", existing: "mine\n", args: []string{"--force"}, wantFile: config.Starter()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "proxy.yaml")
			if tt.existing != "" {
				cmdtest.WriteFile(t, filepath.Dir(path), "proxy.yaml", tt.existing, 0o644)
			}
			code, stdout, stderr := cmdtest.RunWith(t, nil, append([]string{"config", "init", path}, tt.args...)...)
			if code != tt.want {
				t.Fatalf("exit code %d, want %d; stderr %s", code, tt.want, stderr)
			}
			if stdout != "" || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stdout %q, stderr %q (want %q)", stdout, stderr, tt.wantErr)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.wantFile {
				t.Errorf("file is\n%s\nwant\n%s", got, tt.wantFile)
			}
			if info, _ := os.Stat(path); tt.want == 0 && info.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", info.Mode().Perm())
			}
		})
	}
}
