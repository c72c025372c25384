package root_test

import (
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// TestUnknownSubcommand: a typo in a subcommand fails, with the closest
// name, instead of printing the help and exiting 0.
func TestUnknownSubcommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"accounts lst", []string{"accounts", "lst"}, cmdutil.ExitFailure, `unknown command "lst" for "proxy accounts"; did you mean "list"`},
		{"config valdate", []string{"config", "valdate"}, cmdutil.ExitFailure, `unknown command "valdate" for "proxy config"; did you mean "validate"?`},
		{"sessions clr", []string{"sessions", "clr"}, cmdutil.ExitFailure, `unknown command "clr" for "proxy sessions"`},
		{"proxy serv", []string{"serv"}, cmdutil.ExitFailure, `unknown command "serv" for "proxy"; did you mean "serve"?`},
		{"nothing close", []string{"accounts", "frobnicate"}, cmdutil.ExitFailure, "(see `proxy accounts --help`)"},
		{"a group alone shows its help", []string{"accounts"}, cmdutil.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cmdtest.RunWith(t, nil, tt.args...)
			if code != tt.want || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.want, tt.wantErr)
			}
			if tt.want == cmdutil.ExitOK && !strings.Contains(stdout, "Available Commands") {
				t.Errorf("no help on stdout: %q", stdout)
			}
		})
	}
}
