package e2e_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/status"
)

// adminWait bounds each wait for the proxy; a healthy run takes milliseconds.
const adminWait = 10 * time.Second

// adminGet fetches an admin path with the client key (none when key is "").
func adminGet(t *testing.T, base, path, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// keyedPost sends a streaming request of session with the client key and
// returns the response with its body unread.
func keyedPost(t *testing.T, base, session string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+clientKey)
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// keyedTurn sends a request and reads its answer to the end.
func keyedTurn(t *testing.T, base, session string) {
	t.Helper()
	resp := keyedPost(t, base, session)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "response.completed") {
		t.Fatalf("turn of %s: %d\n%s", session, resp.StatusCode, body)
	}
}

// eventStream is an open GET /_proxy/events: decisions arrive on C, and
// Live is closed when the backlog is over.
type eventStream struct {
	C    chan event.Decision
	Live chan struct{}
	raw  *syncBuffer
	done chan struct{}
}

func openEvents(t *testing.T, base string) *eventStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/_proxy/events", nil)
	req.Header.Set("Authorization", "Bearer "+clientKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	es := &eventStream{C: make(chan event.Decision, 100), Live: make(chan struct{}), raw: &syncBuffer{}, done: make(chan struct{})}
	go func() {
		defer close(es.done)
		sc := bufio.NewScanner(resp.Body)
		var name string
		live := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = es.raw.Write([]byte(line + "\n"))
			switch {
			case line == ": live" && !live:
				live = true
				close(es.Live)
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "decision":
				var d event.Decision
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
					t.Errorf("decision event: %v", err)
				}
				es.C <- d
			}
		}
	}()
	t.Cleanup(func() {
		resp.Body.Close()
		<-es.done
	})
	return es
}

func (es *eventStream) next(t *testing.T) event.Decision {
	t.Helper()
	select {
	case d := <-es.C:
		return d
	case <-time.After(adminWait):
		t.Fatal("no decision event")
	}
	return event.Decision{}
}

// metric reads one sample of a Prometheus text exposition; labels in the
// exposition's (alphabetical) order.
func metric(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Errorf("no sample %s", series)
	return -1
}

func TestAdminEndpointsAfterRealRequests(t *testing.T) {
	primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
	standby := startUpstream(t, "standby", fakeupstream.WithChatGPT(accessToken, "acct-standby"))
	cfg := "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n" +
		openaiAccount("primary", primary, "KEY_A", 1) + chatgptAccount("standby", standby, "ACCESS", "acct-standby", 0)
	p := startProxy(t, cfg, env)
	secrets := []string{keyA, keyB, accessToken, clientKey}

	// Three turns of one conversation before anyone watches: the backlog.
	for range 3 {
		keyedTurn(t, p.URL, "conv-one")
	}
	es := openEvents(t, p.URL)
	var decisions []event.Decision
	for range 3 {
		decisions = append(decisions, es.next(t))
	}
	select {
	case <-es.Live:
	case <-time.After(adminWait):
		t.Fatal("the backlog did not end")
	}
	for i, want := range []string{"new", "sticky", "sticky"} {
		d := decisions[i]
		if d.Reason != want || d.Account != "primary" || d.Status != 200 || d.Client != "laptop" || d.Session == "" || d.Usage.InputTokens == 0 {
			t.Errorf("backlog %d: %+v, want reason %s on primary for client laptop with usage", i, d, want)
		}
	}

	// A stream held open upstream shows in flight in status and metrics.
	gate := make(chan struct{})
	// Hang after the first output event: the proxy holds the opening
	// events back until then, so the client has its headers.
	primary.Script(fakeupstream.Fault{Hang: gate, HangAfter: 3})
	held := keyedPost(t, p.URL, "conv-one")
	code, body := adminGet(t, p.URL, "/_proxy/status", clientKey)
	var doc status.Document
	if code != 200 || json.Unmarshal([]byte(body), &doc) != nil {
		t.Fatalf("status: %d\n%s", code, body)
	}
	if a := accountIn(t, doc, "primary"); a.InFlight != 1 {
		t.Errorf("primary in flight %d, want 1", a.InFlight)
	}
	_, scrape := adminGet(t, p.URL, "/metrics", clientKey)
	if v := metric(t, scrape, `proxy_inflight{account="primary"}`); v != 1 {
		t.Errorf("proxy_inflight primary %v, want 1", v)
	}
	close(gate)
	if b, _ := io.ReadAll(held.Body); !strings.Contains(string(b), "response.completed") {
		t.Fatalf("held turn did not complete:\n%s", b)
	}
	decisions = append(decisions, es.next(t)) // live, not backlog

	// A rate limit moves the next new conversation to the standby.
	primary.Script(fakeupstream.RateLimited(20 * time.Second))
	keyedTurn(t, p.URL, "conv-two")
	fo := es.next(t)
	decisions = append(decisions, fo)
	if fo.Reason != "failover" || fo.Account != "standby" || len(fo.Attempts) != 2 || fo.Attempts[0].Account != "primary" {
		t.Errorf("failover decision %+v", fo)
	}

	// Status: usage, cooldown, in flight back to 0. Usage is written off
	// the request path, so it shows a moment after the responses.
	doc = statusWhen(t, p.URL, func(d status.Document) bool {
		return accountIn(t, d, "primary").Today.Requests >= 4 && accountIn(t, d, "standby").Today.Requests >= 1
	})
	pa, sa := accountIn(t, doc, "primary"), accountIn(t, doc, "standby")
	if pa.State != status.StateCoolingDown || pa.Reason != "rate_limit" || pa.Until == nil || pa.InFlight != 0 {
		t.Errorf("primary %+v, want cooling down for rate_limit with until, none in flight", pa)
	}
	if pa.Today.Requests != 4 || sa.Today.Requests != 1 || pa.Today.InputTokens == 0 || sa.State != status.StateHealthy || sa.Limits == nil {
		t.Errorf("usage primary %+v standby %+v (limits %v), want 4 and 1 requests", pa.Today, sa.Today, sa.Limits)
	}
	if doc.Sessions != 2 || doc.Version == "" || doc.EventsDropped != 0 {
		t.Errorf("sessions %d version %q dropped %d", doc.Sessions, doc.Version, doc.EventsDropped)
	}

	// Metrics match the five requests. Every decision above was read from
	// the event stream, which the admin feeds after the metrics: no wait.
	code, scrape = adminGet(t, p.URL, "/metrics", clientKey)
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	var input, cached, output int64
	for _, d := range decisions {
		if d.Account == "primary" {
			input, cached, output = input+d.Usage.InputTokens, cached+d.Usage.CachedTokens, output+d.Usage.OutputTokens
		}
	}
	for series, want := range map[string]float64{
		`proxy_requests_total{account="primary",client="laptop",status="200"}`: 4,
		`proxy_requests_total{account="standby",client="laptop",status="200"}`: 1,
		`proxy_sticky_total{result="new"}`:                                     1,
		`proxy_sticky_total{result="sticky"}`:                                  3,
		`proxy_sticky_total{result="failover"}`:                                1,
		`proxy_failovers_total{from="primary",reason="rate_limit"}`:            1,
		`proxy_request_duration_seconds_count{account="primary"}`:              4,
		`proxy_upstream_ttfb_seconds_count{account="standby"}`:                 1,
		`proxy_tokens_total{account="primary",client="laptop",kind="input"}`:   float64(input),
		`proxy_tokens_total{account="primary",client="laptop",kind="cached"}`:  float64(cached),
		`proxy_tokens_total{account="primary",client="laptop",kind="output"}`:  float64(output),
		`proxy_account_up{account="primary"}`:                                  0,
		`proxy_account_up{account="standby"}`:                                  1,
		`proxy_inflight{account="primary"}`:                                    0,
		`proxy_events_dropped_total`:                                           0,
	} {
		if got := metric(t, scrape, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if strings.Contains(scrape, "go_goroutines") {
		t.Error("metrics carry the default registry's collectors")
	}

	for what, text := range map[string]string{"status": body, "metrics": scrape, "events": es.raw.String(), "logs": p.Logs.String()} {
		assertNoSecrets(t, what, text, secrets...)
	}
}

func accountIn(t *testing.T, doc status.Document, name string) status.Account {
	t.Helper()
	for _, a := range doc.Accounts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no account %s in status", name)
	return status.Account{}
}

func TestAdminEndpointsNeedTheClientKey(t *testing.T) {
	up := startUpstream(t, "up", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+openaiAccount("up", up, "KEY_A", 1), env)
	tests := []struct {
		name, path, key string
		want            int
	}{
		{"status without key", "/_proxy/status", "", 401},
		{"events without key", "/_proxy/events", "", 401},
		{"metrics without key", "/metrics", "", 401},
		{"sessions without key", "/_proxy/sessions", "", 401},
		{"status with a wrong key", "/_proxy/status", "not-the-key", 401},
		{"metrics with a wrong key", "/metrics", "not-the-key", 401},
		{"status with the key", "/_proxy/status", clientKey, 200},
		{"metrics with the key", "/metrics", clientKey, 200},
		{"healthz stays open", "/healthz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := adminGet(t, p.URL, tt.path, tt.key)
			if code != tt.want {
				t.Errorf("%s: %d, want %d\n%s", tt.path, code, tt.want, body)
			}
			assertNoSecrets(t, tt.path, body, keyA, clientKey)
			if tt.want == 200 && tt.path == "/_proxy/status" && !strings.Contains(body, `"up"`) {
				t.Errorf("status does not name the account:\n%s", body)
			}
		})
	}
}

// TestEventsStreamEndsOnShutdown: a watcher attached must not hold the
// server's graceful shutdown for its whole grace.
func TestEventsStreamEndsOnShutdown(t *testing.T) {
	up := startUpstream(t, "up", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("up", up, "KEY_A", 1), env)
	resp, err := http.Get(p.URL + "/_proxy/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	stopped := make(chan struct{})
	go func() {
		p.stop()
		close(stopped)
	}()
	for name, ch := range map[string]<-chan struct{}{"stream": chanOf(ended), "server": stopped} {
		select {
		case <-ch:
		case <-time.After(adminWait):
			t.Fatalf("the %s did not end on shutdown", name)
		}
	}
}

func chanOf(c <-chan error) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		<-c
		close(out)
	}()
	return out
}

// statusWhen polls /_proxy/status until ready holds (or 10 s pass) and
// returns the last document.
func statusWhen(t *testing.T, base string, ready func(status.Document) bool) status.Document {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := adminGet(t, base, "/_proxy/status", clientKey)
		var doc status.Document
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		if ready(doc) || time.Now().After(deadline) {
			return doc
		}
		time.Sleep(10 * time.Millisecond) // usage is being written; not a TTL
	}
}
