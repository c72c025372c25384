package pricing

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current table")

func TestLookupFamilies(t *testing.T) {
	tab := Default()
	cases := []struct {
		name  string
		model string
		want  Price
	}{
		{"gpt-5", "gpt-5", Price{1.25, 0.125, 10}},
		{"gpt-5 chat", "gpt-5-chat-latest", Price{1.25, 0.125, 10}},
		{"gpt-5 mini", "gpt-5-mini", Price{0.25, 0.025, 2}},
		{"gpt-5 nano", "gpt-5-nano", Price{0.05, 0.005, 0.40}},
		{"gpt-5 pro has no cache discount", "gpt-5-pro", Price{15, 15, 120}},
		{"gpt-5 codex", "gpt-5-codex", Price{1.25, 0.125, 10}},
		{"gpt-5.1", "gpt-5.1", Price{1.25, 0.125, 10}},
		{"gpt-5.1 codex", "gpt-5.1-codex", Price{1.25, 0.125, 10}},
		{"gpt-5.1 codex mini", "gpt-5.1-codex-mini", Price{0.25, 0.025, 2}},
		{"gpt-5.1 codex max", "gpt-5.1-codex-max", Price{1.25, 0.125, 10}},
		{"gpt-5.2", "gpt-5.2", Price{1.75, 0.175, 14}},
		{"gpt-5.2 codex", "gpt-5.2-codex", Price{1.75, 0.175, 14}},
		{"gpt-5.2 pro", "gpt-5.2-pro", Price{21, 21, 168}},
		{"gpt-5.3 codex", "gpt-5.3-codex", Price{1.75, 0.175, 14}},
		{"gpt-5.3 chat", "gpt-5.3-chat-latest", Price{1.75, 0.175, 14}},
		{"gpt-5.4", "gpt-5.4", Price{2.50, 0.25, 15}},
		{"gpt-5.4 mini", "gpt-5.4-mini", Price{0.75, 0.075, 4.50}},
		{"gpt-5.4 nano", "gpt-5.4-nano", Price{0.20, 0.02, 1.25}},
		{"gpt-5.4 pro", "gpt-5.4-pro", Price{30, 30, 180}},
		{"gpt-5.5", "gpt-5.5", Price{5, 0.50, 30}},
		{"gpt-5.5 pro", "gpt-5.5-pro", Price{30, 30, 180}},
		{"gpt-5.6 alias is sol", "gpt-5.6", Price{4, 0.40, 20}},
		{"gpt-5.6 sol", "gpt-5.6-sol", Price{4, 0.40, 20}},
		{"gpt-5.6 terra", "gpt-5.6-terra", Price{2, 0.20, 12}},
		{"gpt-5.6 luna", "gpt-5.6-luna", Price{0.20, 0.02, 1.20}},
		{"case and space do not matter", "  GPT-5.5 ", Price{5, 0.50, 30}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tab.Lookup(c.model)
			if !ok || got != c.want {
				t.Fatalf("Lookup(%q) = %+v, %v; want %+v, true", c.model, got, ok, c.want)
			}
		})
	}
}

func TestLookupSnapshotsAndSuffixes(t *testing.T) {
	tab := Default()
	cases := []struct {
		name   string
		model  string
		family string
	}{
		{"gpt-5 snapshot", "gpt-5-2025-08-07", "gpt-5"},
		{"gpt-5 mini snapshot", "gpt-5-mini-2025-08-07", "gpt-5-mini"},
		{"gpt-5 pro snapshot", "gpt-5-pro-2025-10-06", "gpt-5-pro"},
		{"gpt-5.1 snapshot", "gpt-5.1-2025-11-13", "gpt-5.1"},
		{"gpt-5.2 snapshot", "gpt-5.2-2025-12-11", "gpt-5.2"},
		{"gpt-5.4 mini snapshot", "gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"},
		{"gpt-5.5 snapshot", "gpt-5.5-2026-04-23", "gpt-5.5"},
		{"effort suffix", "gpt-5.5-xhigh", "gpt-5.5"},
		{"effort on a codex model", "gpt-5.1-codex-max-xhigh", "gpt-5.1-codex-max"},
		{"effort on codex mini", "gpt-5.1-codex-mini-medium", "gpt-5.1-codex-mini"},
		{"max effort on sol", "gpt-5.6-sol-max", "gpt-5.6-sol"},
		{"snapshot then effort", "gpt-5.5-2026-04-23-high", "gpt-5.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, ok := tab.Lookup(c.family)
			if !ok {
				t.Fatalf("family %q not in the table", c.family)
			}
			got, ok := tab.Lookup(c.model)
			if !ok || got != want {
				t.Fatalf("Lookup(%q) = %+v, %v; want %s's %+v", c.model, got, ok, c.family, want)
			}
		})
	}
	// An exact name that ends like a suffix is never cut: -max is an effort,
	// but gpt-5.1-codex-max is a model of its own.
	if _, ok := tab.prices["gpt-5.1-codex-max"]; !ok {
		t.Fatal("gpt-5.1-codex-max must be an exact entry")
	}
}

func TestLookupUnknownIsUnpriced(t *testing.T) {
	tab := Default()
	for _, model := range []string{
		"", "gpt-4o", "o3", "gpt-6-sol", "gpt-5.3-codex-spark", "gpt-5.7",
		"gpt-5-2025", "my-model", "-high", "2025-08-07", "gpt-5-codex-2025-09-15-extra",
	} {
		t.Run(model, func(t *testing.T) {
			if p, ok := tab.Lookup(model); ok {
				t.Fatalf("Lookup(%q) = %+v, true; want unpriced", model, p)
			}
			if usd, ok := tab.Cost(model, Usage{InputTokens: 1000, OutputTokens: 1000}); ok {
				t.Fatalf("Cost(%q) = %v, true; want unpriced, never a zero price", model, usd)
			}
		})
	}
}

func TestDefaultHasNoZeroOrInvalidPrice(t *testing.T) {
	tab := Default()
	for _, m := range tab.Models() {
		p := tab.prices[m]
		if p.Input <= 0 || p.CachedInput <= 0 || p.Output <= 0 {
			t.Errorf("%s: %+v has a zero price; leave a model out instead", m, p)
		}
		if err := ValidateOverride(m, p); err != nil {
			t.Errorf("shipped price fails validation: %v", err)
		}
	}
}

func TestWith(t *testing.T) {
	base := Default()
	tab := base.With(map[string]Price{
		"GPT-5":               {Input: 1, CachedInput: 0.1, Output: 8}, // replaces, name normalized
		"my-local-5":          {Input: 0, CachedInput: 0, Output: 0},   // adds a model, free is allowed
		"gpt-5.3-codex-spark": {Input: 1.75, CachedInput: 0.175, Output: 14},
	})
	cases := []struct {
		name  string
		tab   *Table
		model string
		want  Price
		ok    bool
	}{
		{"override wins", tab, "gpt-5", Price{1, 0.1, 8}, true},
		{"override reaches snapshots", tab, "gpt-5-2025-08-07", Price{1, 0.1, 8}, true},
		{"override reaches effort suffixes", tab, "gpt-5-high", Price{1, 0.1, 8}, true},
		{"others untouched", tab, "gpt-5-mini", Price{0.25, 0.025, 2}, true},
		{"added model", tab, "my-local-5", Price{}, true},
		{"added unpriced default", tab, "gpt-5.3-codex-spark", Price{1.75, 0.175, 14}, true},
		{"base table unchanged", base, "gpt-5", Price{1.25, 0.125, 10}, true},
		{"base lacks the added model", base, "my-local-5", Price{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := c.tab.Lookup(c.model)
			if ok != c.ok || got != c.want {
				t.Fatalf("Lookup(%q) = %+v, %v; want %+v, %v", c.model, got, ok, c.want, c.ok)
			}
		})
	}
	if usd, ok := tab.Cost("my-local-5", Usage{InputTokens: 5, OutputTokens: 5}); !ok || usd != 0 {
		t.Fatalf("a model priced at zero by the config costs %v, %v; want 0, true", usd, ok)
	}
	if Default() != base {
		t.Fatal("Default must hand out the one shipped table")
	}
}

func TestCost(t *testing.T) {
	tab := Default()
	cases := []struct {
		name  string
		model string
		u     Usage
		want  float64
	}{
		// 1M uncached input at $1.25 + 1M output at $10.
		{"whole millions", "gpt-5", Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, 11.25},
		// 10,000 input of which 8,000 cached: 2,000*1.25 + 8,000*0.125 + 500*10
		// = 2,500 + 1,000 + 5,000 micro-dollars = $0.0085.
		{"cached part of input", "gpt-5-codex", Usage{InputTokens: 10_000, CachedTokens: 8_000, OutputTokens: 500}, 0.0085},
		// Reasoning tokens are inside output: 400 output (300 of them
		// reasoning) at $14 = 5,600; 1,200 input (200 cached): 1,000*1.75 +
		// 200*0.175 = 1,750 + 35. Total 7,385 micro-dollars.
		{"reasoning not counted twice", "gpt-5.2-codex", Usage{InputTokens: 1_200, CachedTokens: 200, OutputTokens: 400, ReasoningTokens: 300}, 0.007385},
		// A Codex turn on gpt-5.5: 150,000 input, 140,000 cached, 2,000
		// output (1,500 reasoning): 10,000*5 + 140,000*0.5 + 2,000*30 =
		// 50,000 + 70,000 + 60,000 = 180,000 micro-dollars.
		{"codex turn on gpt-5.5", "gpt-5.5-xhigh", Usage{InputTokens: 150_000, CachedTokens: 140_000, OutputTokens: 2_000, ReasoningTokens: 1_500}, 0.18},
		// Rounded to the micro-dollar: 7 nano input at $0.05 = 0.35 micro,
		// 3 output at $0.40 = 1.2 micro; 1.55 rounds to 2 micro-dollars.
		{"rounded to the micro-dollar", "gpt-5-nano", Usage{InputTokens: 7, OutputTokens: 3}, 0.000002},
		{"below half a micro-dollar is zero", "gpt-5-nano", Usage{InputTokens: 5}, 0},
		// A pro model bills cached tokens at the input price: 1,000 * 15 + 100 * 120.
		{"pro has no cache discount", "gpt-5-pro", Usage{InputTokens: 1_000, CachedTokens: 900, OutputTokens: 100}, 0.027},
		{"nothing used", "gpt-5.6-luna", Usage{}, 0},
		// Malformed: more cached than input; cached priced as cached, no
		// uncached left, negative output ignored: 100 * 0.02 = 2 micro-dollars.
		{"cached above input", "gpt-5.6-luna", Usage{InputTokens: 50, CachedTokens: 100, OutputTokens: -5}, 0.000002},
		// A big ledger row: 2e9 input (1.5e9 cached) and 1e8 output on
		// gpt-5.6-sol: 5e8*4 + 1.5e9*0.4 + 1e8*20 = 2e9+6e8+2e9 micro = $4,600.
		{"large ledger row", "gpt-5.6-sol", Usage{InputTokens: 2_000_000_000, CachedTokens: 1_500_000_000, OutputTokens: 100_000_000}, 4600},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tab.Cost(c.model, c.u)
			if !ok || got != c.want {
				t.Fatalf("Cost(%q, %+v) = %v, %v; want %v, true", c.model, c.u, got, ok, c.want)
			}
		})
	}
}

func TestValidateOverride(t *testing.T) {
	cases := []struct {
		name    string
		model   string
		p       Price
		wantErr string // "" for valid
	}{
		{"valid", "gpt-5", Price{1.25, 0.125, 10}, ""},
		{"free model", "local", Price{}, ""},
		{"cached equal to input", "gpt-5-pro", Price{15, 15, 120}, ""},
		{"negative input", "gpt-5", Price{-1, 0, 10}, "input is -1"},
		{"negative cached", "gpt-5", Price{1, -0.1, 10}, "cached_input is -0.1"},
		{"negative output", "gpt-5", Price{1, 0.1, -10}, "output is -10"},
		{"cached above input", "gpt-5", Price{1, 2, 10}, `model "gpt-5": cached_input (2) is above input (1)`},
		{"no name", " ", Price{1, 0.1, 10}, "needs a model name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateOverride(c.model, c.p)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateOverride(%q, %+v) = %v; want nil", c.model, c.p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("ValidateOverride(%q, %+v) = %v; want an error containing %q", c.model, c.p, err, c.wantErr)
			}
		})
	}
}

func TestDefaultTableGolden(t *testing.T) {
	got := Default().Render()
	path := filepath.Join("testdata", "default_table.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/pricing -update)", err)
	}
	if got != string(want) {
		t.Fatalf("default table differs from %s (a price changed? review it, then -update):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestMoney(t *testing.T) {
	for v, want := range map[float64]string{0.005: "0.005", 0.175: "0.175", 1.25: "1.25", 10: "10.00", 0.2: "0.20", 0.075: "0.075"} {
		if got := money(v); got != want {
			t.Errorf("money(%v) = %q; want %q", v, got, want)
		}
	}
}
