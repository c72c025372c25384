package simulate_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/routesim"
)

// The table for a small pool over a day: every strategy's row, from a
// seed, so it is the same on every run.
func TestSimulateGolden(t *testing.T) {
	code, stdout, stderr := cmdtest.RunCLI(t, "routing", "simulate", "--accounts", "2,3", "--days", "1", "--seed", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cmdtest.AssertGolden(t, "simulate-2-3-accounts.golden", stdout)
}

func TestSimulateJSON(t *testing.T) {
	code, stdout, stderr := cmdtest.RunCLI(t, "routing", "simulate", "--accounts", "2", "--days", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []routesim.Result
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("not JSON rows: %v\n%s", err, stdout)
	}
	if len(rows) != len(routesim.Strategies) {
		t.Fatalf("%d rows, want one a strategy (%d)", len(rows), len(routesim.Strategies))
	}
	for i, r := range rows {
		if r.Strategy != routesim.Strategies[i] || r.Accounts != 2 {
			t.Errorf("row %d is %s on %d accounts, want %s on 2", i, r.Strategy, r.Accounts, routesim.Strategies[i])
		}
		if r.Served <= 0 || r.Served+r.Lost != r.Demand {
			t.Errorf("%s: served %d + lost %d, want the demand %d", r.Strategy, r.Served, r.Lost, r.Demand)
		}
	}
	for _, field := range []string{`"served_tokens"`, `"served_before_all_limited_tokens"`, `"week_unused_at_reset"`, `"five_hour_unused_at_reset"`, `"moved"`} {
		if !strings.Contains(stdout, field) {
			t.Errorf("the JSON lacks %s", field)
		}
	}
}

func TestSimulateRefusesOutOfBounds(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no account", []string{"--accounts", "0"}, "--accounts 0: a pool size is 1 to 64"},
		{"too many accounts", []string{"--accounts", "2,65"}, "--accounts 65: a pool size is 1 to 64"},
		{"no days", []string{"--days", "0"}, "--days 0: give more than 0 and at most 28"},
		{"too many days", []string{"--days", "29"}, "--days 29: give more than 0 and at most 28"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cmdtest.RunCLI(t, append([]string{"routing", "simulate"}, tt.args...)...)
			if code != cmdutil.ExitFailure || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, cmdutil.ExitFailure, tt.want)
			}
		})
	}
}
