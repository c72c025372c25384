package relay

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/keylimit"
	"github.com/proxy-dev/proxy/pkg/store"
)

// decisions keeps every published record.
type decisions struct {
	mu      sync.Mutex
	all     []event.Decision
	arrived chan struct{} // closed and replaced at each record
}

func (d *decisions) Publish(rec event.Decision) {
	d.mu.Lock()
	d.all = append(d.all, rec)
	if d.arrived != nil {
		close(d.arrived)
		d.arrived = nil
	}
	d.mu.Unlock()
}

// refusal returns the record that names limit. Records are written off
// their requests, in no set order and possibly after the answer has been
// read, so it waits for one to arrive (bounded, so a missing record fails
// the test rather than hanging it).
func (d *decisions) refusal(t *testing.T, limit string) event.Decision {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		for _, rec := range d.all {
			if rec.Limit == limit {
				d.mu.Unlock()
				return rec
			}
		}
		if d.arrived == nil {
			d.arrived = make(chan struct{})
		}
		arrived := d.arrived
		d.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("no record names the limit %q", limit)
		}
	}
}

// asKey serves h as the server does after admitting the named key.
func asKey(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(identity.With(r.Context(), identity.Caller{Name: r.Header.Get("X-Test-Key"), Role: identity.User})))
	})
}

func sendAs(t *testing.T, url, key, model string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/responses", strings.NewReader(`{"model":"`+model+`","stream":true,"input":"hi"}`))
	req.Header.Set("X-Test-Key", key)
	req.Header.Set("Session_id", "conv-"+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestKeyLimitsBeforeAnyAccount: a key over a limit is answered by the
// proxy, no account is leased for it, the record names the limit; another
// key is served meanwhile; a stream's slot frees when it ends.
func TestKeyLimitsBeforeAnyAccount(t *testing.T) {
	now := time.Date(2026, 12, 9, 15, 4, 30, 0, time.UTC)
	st, err := store.Open(context.Background(), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	limits := keylimit.New(st, []config.ClientKey{
		{Name: "ci", Limits: config.KeyLimits{RequestsPerMinute: 2, Models: []string{"gpt-5*"}}},
		{Name: "one-stream", Limits: config.KeyLimits{Concurrent: 1}},
		{Name: "api-only", Limits: config.KeyLimits{Accounts: []string{"B"}}},
		{Name: "lead"},
	}, keylimit.Options{Now: func() time.Time { return now }})
	a := newUpstream(t, healthy("A"))
	b := newUpstream(t, healthy("B"))
	onlyGPT5, err := account.New(config.Account{Name: "B", Type: config.TypeOpenAI, BaseURL: b.srv.URL, APIKey: "sk-test-B-0123456789abcdef", Weight: 1, Enabled: true, Models: []string{"gpt-5*"}})
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", a), onlyGPT5}}
	pub := &decisions{}
	srv := httptest.NewServer(asKey(New(fp, pub, Options{Limits: limits}).Handler("/responses")))
	t.Cleanup(srv.Close)

	for i := range 2 {
		if resp, body := sendAs(t, srv.URL, "ci", "gpt-5"); resp.StatusCode != 200 {
			t.Fatalf("ci request %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	_, leased, _ := fp.snapshot()
	resp, body := sendAs(t, srv.URL, "ci", "gpt-5")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" || !strings.Contains(body, `"code":"client_limit_reached"`) ||
		!strings.Contains(body, "limit of 2 requests per minute") {
		t.Fatalf("third request in the minute: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if _, after, _ := fp.snapshot(); len(after) != len(leased) {
		t.Errorf("an account was leased for a refused request: %v", after[len(leased):])
	}
	if d := pub.refusal(t, "requests_per_minute"); d.Status != 429 || d.Client != "ci" || d.Account != "" {
		t.Errorf("record of the refusal: %+v", d)
	}
	if resp, body := sendAs(t, srv.URL, "lead", "gpt-5"); resp.StatusCode != 200 {
		t.Errorf("another key meanwhile: %d %s", resp.StatusCode, body)
	}
	resp, body = sendAs(t, srv.URL, "ci", "o3")
	if resp.StatusCode != 403 || !strings.Contains(body, `"code":"model_not_allowed"`) {
		t.Errorf("a model outside ci's list: %d %s", resp.StatusCode, body)
	}

	// A key kept to B is served by B, though the pool offers A first;
	// for a model B does not serve it is told which accounts it may use.
	resp, body = sendAs(t, srv.URL, "api-only", "gpt-5")
	if resp.StatusCode != 200 || !strings.Contains(body, "hello from B") {
		t.Errorf("api-only: %d %s", resp.StatusCode, body)
	}
	resp, body = sendAs(t, srv.URL, "api-only", "o3")
	if resp.StatusCode != 403 || !strings.Contains(body, `"code":"account_not_allowed"`) || !strings.Contains(body, "only by the accounts B") {
		t.Errorf("api-only asking for a model only A serves: %d %s", resp.StatusCode, body)
	}
	if d := pub.refusal(t, "accounts"); d.Status != 403 || d.Client != "api-only" || d.Account != "" {
		t.Errorf("record of the refusal: %+v", d)
	}

	// Streams: one at a time; each ends before the next begins, so
	// sequential requests all pass and its slot frees at once.
	for i := range 3 {
		if resp, body := sendAs(t, srv.URL, "one-stream", "gpt-5"); resp.StatusCode != 200 {
			t.Fatalf("one-stream request %d after the last ended: %d %s", i+1, resp.StatusCode, body)
		}
	}
	block, arrived := make(chan struct{}), make(chan struct{}, 1)
	a.mu.Lock()
	// Held open before response.completed, after which the relay ends the
	// stream whatever the upstream does.
	a.script = script{events: []string{evCreated, evInProgress, evItemAdded, `{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"still"}`}, block: block, arrived: arrived}
	a.mu.Unlock()
	first := make(chan int)
	go func() {
		resp, _ := sendAs(t, srv.URL, "one-stream", "gpt-5")
		first <- resp.StatusCode
	}()
	<-arrived // admitted, so its slot is taken
	resp, body = sendAs(t, srv.URL, "one-stream", "gpt-5")
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal([]byte(body), &e)
	if resp.StatusCode != 429 || e.Error.Code != "client_limit_reached" || !strings.Contains(e.Error.Message, "has 1 streams open") {
		t.Errorf("a second stream while one is open: %d %q", resp.StatusCode, body)
	}
	close(block)
	if code := <-first; code != 200 {
		t.Errorf("the open stream: %d", code)
	}
}
