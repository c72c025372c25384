package backendapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/backendapi"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/status"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func chatgpt(plan string, primary float64, primaryReset time.Duration, secondary float64) status.Account {
	return status.Account{Name: "secret-name-" + plan, Type: "openai-responses", Enabled: true, State: status.StateHealthy, Plan: plan,
		Limits: &health.Limits{
			Primary:   &health.Window{UsedPercent: primary, WindowMinutes: 300, ResetsAt: now.Add(primaryReset)},
			Secondary: &health.Window{UsedPercent: secondary, WindowMinutes: 10080, ResetsAt: now.Add(80 * time.Hour)}}}
}

// TestUsageGolden: the answer in Codex's shape, for the pools a user meets.
func TestUsageGolden(t *testing.T) {
	full := chatgpt("plus", 100, 3*time.Hour, 40)
	full.State = status.StateCoolingDown
	off := chatgpt("pro", 0, time.Hour, 0)
	off.Enabled, off.State = false, status.StateDisabled
	api := status.Account{Name: "api", Type: "openai", Enabled: true, State: status.StateHealthy,
		Limits: &health.Limits{Primary: &health.Window{UsedPercent: 80, ResetsAt: now.Add(time.Minute)}}}
	tests := []struct {
		name    string
		entries []status.Account
	}{
		{"one near its limit, one fresh", []status.Account{chatgpt("plus", 96, 20*time.Minute, 70), chatgpt("plus", 0, 5*time.Hour, 0), api, off}},
		{"every account limited", []status.Account{full, chatgpt("plus", 100, time.Hour, 10)}},
		{"nothing seen yet", []status.Account{{Name: "fresh", Type: "openai-responses", Enabled: true, State: status.StateHealthy}, api}},
		{"plans differ", []status.Account{chatgpt("plus", 10, time.Hour, 5), chatgpt("pro", 30, 2*time.Hour, 15)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := backendapi.New(backendapi.Options{Accounts: func() []status.Account { return tt.entries }, Now: func() time.Time { return now }})
			for _, path := range []string{"/backend-api/wham/usage", "/api/codex/usage"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req = req.WithContext(identity.With(req.Context(), identity.Caller{Name: "ci", Role: identity.User}))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
				}
				var got bytes.Buffer // as sent, in Codex's field order
				if err := json.Indent(&got, rec.Body.Bytes(), "", "  "); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", "usage-"+slug(tt.name)+".golden"), got.Bytes())
				for _, e := range tt.entries {
					if e.Name != "" && strings.Contains(rec.Body.String(), e.Name) {
						t.Errorf("the answer names the account %q: %s", e.Name, rec.Body)
					}
				}
			}
		})
	}
}

// TestUsageMatchesThePoolLine: Codex's "N% left" is 100 minus used_percent;
// it must be the pool line's number.
func TestUsageMatchesThePoolLine(t *testing.T) {
	entries := []status.Account{chatgpt("plus", 37.4, time.Hour, 12.6), chatgpt("plus", 0, time.Hour, 0), chatgpt("plus", 12.5, time.Hour, 0.3)}
	u := backendapi.PoolUsage(entries, now)
	pool := status.Pool(entries, now)
	if u.RateLimit.Primary == nil || u.RateLimit.Secondary == nil || len(pool) != 2 {
		t.Fatalf("usage %+v, pool %+v", u, pool)
	}
	if left := 100 - u.RateLimit.Primary.UsedPercent; left != pool[0].LeftPercent {
		t.Errorf("5h: Codex would show %v%% left, the pool line %v%%", left, pool[0].LeftPercent)
	}
	if left := 100 - u.RateLimit.Secondary.UsedPercent; left != pool[1].LeftPercent {
		t.Errorf("7d: Codex would show %v%% left, the pool line %v%%", left, pool[1].LeftPercent)
	}
}

func TestResetCredits(t *testing.T) {
	h := backendapi.New(backendapi.Options{Accounts: func() []status.Account { return nil }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/backend-api/wham/rate-limit-reset-credits", nil))
	// Codex 0.171.0 warns "missing field `credits`" without the list.
	if rec.Code != 200 || rec.Body.String() != `{"available_count":0,"credits":[]}`+"\n" {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
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
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func slug(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' || c == ',' {
			b[i] = '-'
		}
	}
	return string(b)
}
