package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"
)

func TestLoadHeadroomThreshold(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want float64
		// problem, when set, is the one problem Load must report.
		problem string
	}{
		{name: "default", yaml: "listen: 127.0.0.1:1\n", want: DefaultHeadroomThreshold},
		{name: "a whole percent", yaml: "headroom:\n  threshold: 75\n", want: 75},
		{name: "a fraction of a percent", yaml: "headroom:\n  threshold: 97.5\n", want: 97.5},
		{name: "100 still leans but never refuses", yaml: "headroom:\n  threshold: 100\n", want: 100},
		{name: "zero", yaml: "headroom:\n  threshold: 0\n",
			problem: "proxy.yaml:2: headroom.threshold: must be a percent over 0 and up to 100, got 0"},
		{name: "over 100", yaml: "headroom:\n  threshold: 150\n",
			problem: "proxy.yaml:2: headroom.threshold: must be a percent over 0 and up to 100, got 150"},
		{name: "negative", yaml: "headroom:\n  threshold: -5\n",
			problem: "proxy.yaml:2: headroom.threshold: must be a percent over 0 and up to 100, got -5"},
		{name: "not a number", yaml: "headroom:\n  threshold: lots\n", problem: "headroom.threshold"},
		{name: "misspelt", yaml: "headroom:\n  treshold: 80\n", problem: "proxy.yaml:2: headroom.treshold: unknown key (did you mean threshold?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadHeadroom(t, tt.yaml, tt.problem)
			if cfg == nil {
				return
			}
			if cfg.Headroom.Threshold != tt.want {
				t.Errorf("headroom.threshold = %v, want %v", cfg.Headroom.Threshold, tt.want)
			}
		})
	}
}

func TestHeadroomThresholdNeedsARestart(t *testing.T) {
	running, next := &Config{Headroom: Headroom{Threshold: 90}}, &Config{Headroom: Headroom{Threshold: 80}}
	if got := RestartNeeded(running, next); len(got) != 1 || got[0] != "headroom.threshold" {
		t.Fatalf("RestartNeeded = %v, want [headroom.threshold]", got)
	}
}

func TestLoadHeadroomStrategy(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		// problem, when set, is the one problem Load must report.
		problem string
	}{
		{name: "default", yaml: "listen: 127.0.0.1:1\n", want: DefaultHeadroomStrategy},
		{name: "headroom", yaml: "headroom:\n  strategy: headroom\n", want: StrategyHeadroom},
		{name: "planner", yaml: "headroom:\n  strategy: planner\n", want: StrategyPlanner},
		{name: "weighted", yaml: "headroom:\n  threshold: 80\n  strategy: weighted\n", want: StrategyWeighted},
		{name: "unknown", yaml: "headroom:\n  threshold: 80\n  strategy: soonest\n",
			problem: `proxy.yaml:3: headroom.strategy: "soonest" is not one of headroom (the accounts that used least), planner (the room that expires first), weighted (the weights alone)`},
		{name: "a different case", yaml: "headroom:\n  strategy: Planner\n", problem: `proxy.yaml:2: headroom.strategy: "Planner" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadHeadroom(t, tt.yaml, tt.problem)
			if cfg == nil {
				return
			}
			if cfg.Headroom.Strategy != tt.want {
				t.Errorf("headroom.strategy = %q, want %q", cfg.Headroom.Strategy, tt.want)
			}
		})
	}
}

func TestHeadroomStrategyNeedsARestart(t *testing.T) {
	running := &Config{Headroom: Headroom{Threshold: 90, Strategy: StrategyHeadroom}}
	next := &Config{Headroom: Headroom{Threshold: 90, Strategy: StrategyPlanner}}
	if got := RestartNeeded(running, next); len(got) != 1 || got[0] != "headroom.strategy" {
		t.Fatalf("RestartNeeded = %v, want [headroom.strategy]", got)
	}
}

// loadHeadroom loads yaml as proxy.yaml. With problem set, Load must fail
// with a problem containing it, and loadHeadroom returns nil.
func loadHeadroom(t *testing.T, yaml, problem string) *Config {
	t.Helper()
	dir := inTempDir(t)
	writeFile(t, filepath.Join(dir, "proxy.yaml"), yaml)
	cfg, err := Load(viper.New(), "proxy.yaml", env{}.get)
	if problem == "" {
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if err == nil {
		t.Fatalf("loaded headroom %+v, want the problem %q", cfg.Headroom, problem)
	}
	if got := strings.Join(problemsOf(t, err), "\n"); !strings.Contains(got, problem) {
		t.Fatalf("problems:\n%s\nwant one containing %q", got, problem)
	}
	return nil
}
