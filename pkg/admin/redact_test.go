package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/redact"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/store"
)

const (
	testKey      = "opaque-api-key-0001" // no known shape: hidden because the Set holds it
	testPassword = "base-url-pa55word"
	shapedKey    = "sk-shaped0123456789abcdef" // hidden by shape alone
)

// TestEventsHideSecrets checks that a decision naming a secret (an
// upstream's error quoting the key, a target with a password) reaches
// /_proxy/events without it, and that the bus's other readers still see
// the decision as published.
func TestEventsHideSecrets(t *testing.T) {
	bus := event.NewBus()
	other := bus.Subscribe(4)
	defer other.Cancel()
	a := New(Options{Bus: bus, Backlog: 4, Redact: redact.New([]string{testKey, testPassword})})
	srv := httptest.NewServer(a)
	t.Cleanup(func() { a.Close(); srv.Close() })

	d := event.Decision{
		RequestID: "r1",
		Target:    "http://user:" + testPassword + "@up.example/v1/responses",
		Detail:    "failover from a: unauthorized (401 Incorrect API key provided: " + testKey + ")",
		Error:     "all accounts failed: " + shapedKey,
		Attempts: []event.Attempt{
			{Account: "a", Status: 401, Class: "unauthorized", Error: "unauthorized (401 Incorrect API key provided: " + testKey + ")"},
			{Account: "b", Status: 200},
		},
	}
	publishAndSettle2(t, a, bus, d)

	resp, err := http.Get(srv.URL + "/_proxy/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var got string
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			got = data
			break
		}
	}
	if got == "" {
		t.Fatal("no event in the backlog")
	}
	for i, s := range []string{testKey, testPassword, shapedKey} {
		if strings.Contains(got, s) {
			t.Errorf("/_proxy/events shows secret #%d", i)
		}
	}
	var e event.Decision
	if err := json.Unmarshal([]byte(got), &e); err != nil {
		t.Fatal(err)
	}
	if e.Target != "http://user:[redacted]@up.example/v1/responses" || !strings.Contains(e.Attempts[0].Error, "[redacted]") {
		t.Error("the target or the attempt's error is not masked in place")
	}
	select {
	case seen := <-other.C:
		if !strings.Contains(seen.Attempts[0].Error, testKey) {
			t.Error("masking wrote into the decision the bus's other readers share")
		}
	case <-time.After(wait):
		t.Fatal("the other reader got nothing")
	}
}

// publishAndSettle2 publishes d and waits until the admin took it in.
func publishAndSettle2(t *testing.T, a *Admin, bus *event.Bus, d event.Decision) {
	t.Helper()
	probe := a.live.Subscribe(1)
	defer probe.Cancel()
	bus.Publish(d)
	select {
	case <-probe.C:
	case <-time.After(wait):
		t.Fatal("the admin did not take the decision in")
	}
}

// TestStatusHidesSecrets checks GET /_proxy/status: the base URL without
// its user info, and a cooldown message (built from the upstream's words)
// without the key it quotes.
func TestStatusHidesSecrets(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	// The tracker logs the raw message (its logger is wrapped by a
	// redact handler in `proxy serve`): keep it out of the test output.
	tracker := health.New(st, health.WithClock(func() time.Time { return now }), health.WithLogger(slog.New(slog.DiscardHandler)))
	acc, err := account.New(config.Account{Name: "api", Type: config.TypeOpenAI, Enabled: true, Weight: 1,
		BaseURL: "http://user:" + testPassword + "@up.example/v1", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		outcome health.Outcome
	}{
		{"refused key quoted", health.Outcome{Class: health.Unauthorized, Status: 401, Message: "401 Incorrect API key provided: " + testKey + "."}},
		{"shaped key quoted", health.Outcome{Class: health.Unauthorized, Status: 401, Message: "401 Incorrect API key provided: " + shapedKey + "."}},
		{"not found names the base url", health.Outcome{Class: health.NotFound, Status: 404, Message: "404 at http://user:" + testPassword + "@up.example/v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tracker.Report(ctx, acc, tt.outcome); !ok {
				t.Fatal("no cooldown started")
			}
			t.Cleanup(func() { tracker.Report(ctx, acc, health.Outcome{Class: health.OK}) })
			a := New(Options{Bus: event.NewBus(), Accounts: func() []*account.Account { return []*account.Account{acc} },
				Health: tracker, Store: st, Now: func() time.Time { return now }, Started: now})
			srv := httptest.NewServer(a)
			t.Cleanup(func() { a.Close(); srv.Close() })
			resp, err := http.Get(srv.URL + "/_proxy/status")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for i, s := range []string{testKey, testPassword, shapedKey} {
				if strings.Contains(string(body), s) {
					t.Errorf("/_proxy/status shows secret #%d", i)
				}
			}
			var doc status.Document
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Accounts) != 1 {
				t.Fatalf("%d accounts in the status", len(doc.Accounts))
			}
			if got := doc.Accounts[0]; got.BaseURL != "http://up.example/v1" || !strings.Contains(got.Message, "[redacted]") {
				t.Errorf("base_url shown without user info: %v; message masked: %v", got.BaseURL == "http://up.example/v1", strings.Contains(got.Message, "[redacted]"))
			}
		})
	}
}
