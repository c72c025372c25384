package usagereport

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func usd(v float64) *float64 { return &v }

// week is a team's three days: two keys, two accounts, two models, and a
// model with no price.
var week = []Line{
	{Day: "2026-12-05", Key: "ci", Account: "api", Model: "gpt-5-mini", Requests: 40, InputTokens: 400_000, CachedTokens: 300_000, OutputTokens: 20_000, CostUSD: usd(0.0575)},
	{Day: "2026-12-05", Key: "lead", Account: "chatgpt", Model: "gpt-5.5", Requests: 12, InputTokens: 900_000, CachedTokens: 800_000, OutputTokens: 30_000, ReasoningTokens: 9000, CostUSD: usd(1.525)},
	{Day: "2026-12-07", Key: "ci", Account: "api", Model: "gpt-5-mini", Requests: 10, InputTokens: 100_000, OutputTokens: 5000, CostUSD: usd(0.035)},
	{Day: "2026-12-07", Key: "lead", Account: "chatgpt", Model: "gpt-5.5", Requests: 30, InputTokens: 2_400_000, CachedTokens: 2_000_000, OutputTokens: 80_000, ReasoningTokens: 20_000, CostUSD: usd(3.75)},
	{Day: "2026-12-07", Key: "lead", Account: "api", Model: "local-llama", Requests: 3, InputTokens: 3000, OutputTokens: 300},
}

func TestReports(t *testing.T) {
	tests := []struct {
		name string
		by   []string
	}{
		{"by-key", []string{"key"}},
		{"by-account-model", []string{"account", "model"}},
		{"by-day-key", []string{"day", "key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := Group(week, tt.by)
			var table, js, csv, chart bytes.Buffer
			if err := WriteTable(&table, rows, tt.by); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSON(&js, rows); err != nil {
				t.Fatal(err)
			}
			if err := WriteCSV(&csv, rows, tt.by); err != nil {
				t.Fatal(err)
			}
			if err := WriteChart(&chart, week, Days("2026-12-01", "2026-12-07"), ChartSplit(tt.by), 40); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".table", table.Bytes())
			golden(t, tt.name+".json", js.Bytes())
			golden(t, tt.name+".csv", csv.Bytes())
			golden(t, tt.name+".chart", chart.Bytes())
		})
	}
}

func TestGroupSums(t *testing.T) {
	rows := Group(week, []string{"key"})
	if len(rows) != 2 || *rows[0].Key != "ci" || *rows[1].Key != "lead" {
		t.Fatalf("rows = %+v", rows)
	}
	ci, lead := rows[0], rows[1]
	if ci.Requests != 50 || ci.InputTokens != 500_000 || ci.CachedTokens != 300_000 || ci.OutputTokens != 25_000 || *ci.CostUSD != 0.0925 || ci.UnpricedRequests != 0 {
		t.Errorf("ci = %+v", ci)
	}
	if lead.Requests != 45 || lead.UnpricedRequests != 3 || *lead.CostUSD != 5.275 {
		t.Errorf("lead = %+v, cost %v", lead, *lead.CostUSD)
	}
	if only := Group(week[4:], []string{"model"}); only[0].CostUSD != nil {
		t.Errorf("a group of unpriced lines has a cost: %v", *only[0].CostUSD)
	}
}

func TestParseBy(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string
		wantErr string
	}{
		{"default", nil, "[key]", ""},
		{"comma list", []string{"key,model"}, "[key model]", ""},
		{"flags", []string{"day", "account"}, "[day account]", ""},
		{"unknown", []string{"user"}, "", `--by "user" is not one of key, account, model, day`},
		{"twice", []string{"key,key"}, "", "--by names key twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBy(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmtList(got) != tt.want {
				t.Fatalf("ParseBy = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func fmtList(s []string) string {
	var b bytes.Buffer
	b.WriteString("[")
	for i, v := range s {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(v)
	}
	b.WriteString("]")
	return b.String()
}
