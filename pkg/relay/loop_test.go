package relay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/store"
)

// fakePool leases its accounts in order, skipping excluded ones, and
// records what the relay reports. It stands in for *pool.Pool so the loop
// is tested without a store, a scheduler or a binary.
type fakePool struct {
	accounts []*account.Account

	mu       sync.Mutex
	reports  []report
	leased   []string
	released int
	usage    map[string]store.Usage
}

type report struct {
	account string
	class   health.Class
}

func (p *fakePool) Lease(_ context.Context, r scheduler.Request, _ time.Duration) (*pool.Lease, error) {
	refused := false
	for i, a := range p.accounts {
		if r.Exclude[a.Name] || !a.Serves(r.Model) {
			continue
		}
		if r.Allow != nil && !r.Allow(a) {
			refused = true
			continue
		}
		reason := scheduler.ReasonNew
		if i == 0 {
			reason = scheduler.ReasonSticky
		}
		p.mu.Lock()
		p.leased = append(p.leased, a.Name)
		p.mu.Unlock()
		return pool.NewLease(scheduler.Decision{Account: a, Reason: reason}, func() {
			p.mu.Lock()
			p.released++
			p.mu.Unlock()
		}), nil
	}
	if refused && len(r.Exclude) == 0 {
		return &pool.Lease{}, scheduler.ErrNotAllowed
	}
	return &pool.Lease{}, scheduler.ErrNoAccount
}

func (p *fakePool) Report(a *account.Account, _ http.Header, o health.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, report{a.Name, o.Class})
}

func (p *fakePool) Refresh(context.Context, *account.Account, string) error { return nil }
func (p *fakePool) CanRefresh(*account.Account) bool                        { return false }
func (p *fakePool) AddUsage(k store.LedgerKey, u store.Usage) {
	name := k.Account
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.usage == nil {
		p.usage = map[string]store.Usage{}
	}
	p.usage[name] = u
}

func (p *fakePool) snapshot() ([]report, []string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]report(nil), p.reports...), append([]string(nil), p.leased...), p.released
}

// script is what a fake upstream sends: SSE events, then maybe a cut.
type script struct {
	status int
	header map[string]string
	body   string   // a non-SSE body (error answers)
	events []string // data of each event, in order
	cut    bool     // close the connection instead of ending the stream
	block  chan struct{}
	// arrived, when set, is told of each request as it arrives.
	arrived chan<- struct{}
}

// upstream is a real HTTP server playing one script per request and
// recording the turn-state header each request carried.
type upstream struct {
	srv    *httptest.Server
	mu     sync.Mutex
	turns  []string
	script script
}

func newUpstream(t *testing.T, s script) *upstream {
	t.Helper()
	u := &upstream{script: s}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.turns = append(u.turns, r.Header.Get("X-Codex-Turn-State"))
		s := u.script
		u.mu.Unlock()
		if s.arrived != nil {
			s.arrived <- struct{}{}
		}
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		if s.status != 0 && s.status != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(s.status)
			_, _ = io.WriteString(w, s.body)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for _, data := range s.events {
			fmt.Fprintf(w, "data: %s\n\n", data)
			w.(http.Flusher).Flush()
		}
		if s.block != nil {
			select {
			case <-s.block:
			case <-r.Context().Done():
			}
		}
		if s.cut {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) turnStates() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.turns...)
}

func testAccount(t *testing.T, name string, u *upstream) *account.Account {
	t.Helper()
	a, err := account.New(config.Account{Name: name, Type: config.TypeOpenAI, BaseURL: u.srv.URL, APIKey: "sk-test-" + name + "-0123456789abcdef", Weight: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const (
	evCreated    = `{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}`
	evInProgress = `{"type":"response.in_progress","response":{"id":"resp_1","status":"in_progress"}}`
	evOverloaded = `{"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"server_is_overloaded","message":"Our servers are currently overloaded."}}}`
	evErrorTop   = `{"type":"error","code":"server_is_overloaded","message":"Our servers are currently overloaded.","param":null}`
	evItemAdded  = `{"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}}`
	evDelta      = `{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"hello from %s"}`
	evCompleted  = `{"type":"response.completed","response":{"id":"resp_1","status":"completed","model":"gpt-5","usage":{"input_tokens":10,"output_tokens":3,"total_tokens":13}}}`
)

func healthy(name string) script {
	return script{events: []string{evCreated, evInProgress, evItemAdded, fmt.Sprintf(evDelta, name), evCompleted}}
}

// post sends one Responses request through h and returns the answer body.
func post(t *testing.T, h http.Handler, sessionID string, header map[string]string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Session_id", sessionID)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestLoopFailsOverBeforeOutput(t *testing.T) {
	tests := []struct {
		name      string
		first     script
		wantClass health.Class
	}{
		{"response.failed after created and in_progress", script{events: []string{evCreated, evInProgress, evOverloaded}}, health.ClassifyFailedStream("server_is_overloaded", "").Class},
		{"top-level error event after created", script{events: []string{evCreated, evErrorTop}}, health.ClassifyFailedStream("server_is_overloaded", "").Class},
		{"stream cut after in_progress", script{events: []string{evCreated, evInProgress}, cut: true}, health.ServerError},
		{"429 before any event", script{status: 429, body: `{"error":{"type":"rate_limit_exceeded","message":"slow down"}}`}, health.RateLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newUpstream(t, tt.first)
			b := newUpstream(t, healthy("B"))
			fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", a), testAccount(t, "B", b)}}
			rl := New(fp, nil, Options{})
			resp, body := post(t, rl.Handler("/responses"), "conv-1", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			if strings.Contains(body, "overloaded") || strings.Contains(body, "response.failed") {
				t.Fatalf("the first account's failure reached the client:\n%s", body)
			}
			if !strings.Contains(body, "hello from B") || strings.Count(body, "response.created") != 1 {
				t.Fatalf("want B's whole answer once, got:\n%s", body)
			}
			reports, leased, released := fp.snapshot()
			want := []report{{"A", tt.wantClass}, {"B", health.OK}}
			if fmt.Sprint(reports) != fmt.Sprint(want) {
				t.Fatalf("reports %v, want %v", reports, want)
			}
			if released != len(leased) {
				t.Fatalf("%d leases, %d released", len(leased), released)
			}
		})
	}
}

func TestLoopFailureAfterOutput(t *testing.T) {
	tests := []struct {
		name      string
		first     script
		wantCode  string
		wantClass health.Class
	}{
		{"cut after output", script{events: []string{evCreated, evItemAdded, fmt.Sprintf(evDelta, "A")}, cut: true}, "upstream_stream_interrupted", health.ServerError},
		{"overload after output", script{events: []string{evCreated, evItemAdded, fmt.Sprintf(evDelta, "A"), evOverloaded}}, "server_is_overloaded", health.ClassifyFailedStream("server_is_overloaded", "").Class},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newUpstream(t, tt.first)
			b := newUpstream(t, healthy("B"))
			fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", a), testAccount(t, "B", b)}}
			rl := New(fp, nil, Options{})
			h := rl.Handler("/responses")
			_, body := post(t, h, "conv-2", nil)
			if !strings.Contains(body, "hello from A") || !strings.Contains(body, tt.wantCode) {
				t.Fatalf("want A's output then a failure %s, got:\n%s", tt.wantCode, body)
			}
			reports, _, _ := fp.snapshot()
			if last := reports[len(reports)-1]; last != (report{"A", tt.wantClass}) {
				t.Fatalf("last report %v, want A %s", last, tt.wantClass)
			}
			// The client's retry of the turn goes to the next account.
			_, body = post(t, h, "conv-2", nil)
			if !strings.Contains(body, "hello from B") {
				t.Fatalf("the retry went back to the failing account:\n%s", body)
			}
			// Another conversation is not affected.
			a.mu.Lock()
			a.script = healthy("A")
			a.mu.Unlock()
			if _, body = post(t, h, "conv-3", nil); !strings.Contains(body, "hello from A") {
				t.Fatalf("another conversation avoided A too:\n%s", body)
			}
		})
	}
}

// TestLoopAvoidedAccountIsTheLastResort: a retry sent away from the
// account that cut its turn goes back to it when every other account
// fails, instead of passing on another's refusal.
func TestLoopAvoidedAccountIsTheLastResort(t *testing.T) {
	limited := script{status: 429, header: map[string]string{"Retry-After": "30"}, body: `{"error":{"type":"rate_limit_exceeded","message":"slow down"}}`}
	tests := []struct {
		name  string
		other script
	}{
		{"the other account is rate limited", limited},
		{"the other account answers 500", script{status: 500, body: `{"error":{"type":"server_error","message":"boom"}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newUpstream(t, script{events: []string{evCreated, evItemAdded, fmt.Sprintf(evDelta, "B")}, cut: true})
			a := newUpstream(t, tt.other)
			fp := &fakePool{accounts: []*account.Account{testAccount(t, "B", b), testAccount(t, "A", a)}}
			h := New(fp, nil, Options{}).Handler("/responses")
			if _, body := post(t, h, "conv-cut", nil); !strings.Contains(body, "upstream_stream_interrupted") {
				t.Fatalf("want B's cut turn, got:\n%s", body)
			}
			b.mu.Lock()
			b.script = healthy("B")
			b.mu.Unlock()

			resp, body := post(t, h, "conv-cut", nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello from B") {
				t.Fatalf("the retry got %d, want B's answer after A failed:\n%s", resp.StatusCode, body)
			}
			if _, leased, _ := fp.snapshot(); fmt.Sprint(leased) != "[B A B]" {
				t.Fatalf("leased %v, want B (cut), A (failed), then B as the last resort", leased)
			}
		})
	}
}

func TestLoopTurnStateStaysWithItsAccount(t *testing.T) {
	a := newUpstream(t, script{status: 429, header: map[string]string{"X-Codex-Turn-State": "ts-A-1"}, body: `{"error":{"type":"rate_limit_exceeded","message":"slow down"}}`})
	b := newUpstream(t, script{header: map[string]string{"X-Codex-Turn-State": "ts-B-1"}, events: healthy("B").events})
	fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", a), testAccount(t, "B", b)}}
	rl := New(fp, nil, Options{})
	h := rl.Handler("/responses")

	// A turn state A issued earlier comes back: it goes to A, never to B.
	tagged := http.Header{}
	tagged.Set(turnStateHeader, "ts-A-0")
	tagTurnState(tagged, "A")
	resp, body := post(t, h, "conv-ts", map[string]string{turnStateHeader: tagged.Get(turnStateHeader)})
	if !strings.Contains(body, "hello from B") {
		t.Fatalf("want B's answer, got %s", body)
	}
	if got := a.turnStates(); len(got) != 1 || got[0] != "ts-A-0" {
		t.Fatalf("A received turn states %q, want its own ts-A-0", got)
	}
	if got := b.turnStates(); len(got) != 1 || got[0] != "" {
		t.Fatalf("B received turn states %q, want none", got)
	}
	// The turn state B issued goes back to the client, tagged, and on the
	// next request of the turn reaches B as B wrote it.
	back := resp.Header.Get(turnStateHeader)
	if !strings.HasSuffix(back, ".ts-B-1") {
		t.Fatalf("turn state to the client %q, want B's tagged", back)
	}
	fp.accounts = fp.accounts[1:]
	post(t, h, "conv-ts", map[string]string{turnStateHeader: back})
	if got := b.turnStates(); got[len(got)-1] != "ts-B-1" {
		t.Fatalf("B received %q, want ts-B-1", got)
	}
}

func TestLoopEventTooLarge(t *testing.T) {
	huge := `{"type":"response.output_text.delta","delta":"` + strings.Repeat("x", 200<<10) + `"}`
	tests := []struct {
		name     string
		first    script
		wantBody string
	}{
		{"before output: fails over", script{events: []string{evCreated, huge}}, "hello from B"},
		{"after output: response.failed", script{events: []string{evCreated, evItemAdded, huge}}, "upstream_event_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newUpstream(t, tt.first)
			b := newUpstream(t, healthy("B"))
			fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", a), testAccount(t, "B", b)}}
			rl := New(fp, nil, Options{MaxEventBytes: 64 << 10})
			_, body := post(t, rl.Handler("/responses"), "conv-big", nil)
			if !strings.Contains(body, tt.wantBody) || strings.Contains(body, "xxxxxxxx") {
				t.Fatalf("want %q and no part of the huge event, got %.300s", tt.wantBody, body)
			}
			reports, _, _ := fp.snapshot()
			if reports[0] != (report{"A", health.ServerError}) && reports[len(reports)-1] != (report{"A", health.ServerError}) {
				t.Fatalf("A's failure not reported: %v", reports)
			}
		})
	}
}

// TestLoopClientStopsReading: a client that stops reading is dropped once
// a write waits longer than the stream idle timeout, which ends the
// upstream request and frees the account's slot.
func TestLoopClientStopsReading(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	delta := `{"type":"response.output_text.delta","delta":"` + strings.Repeat("y", 32<<10) + `"}`
	events := []string{evCreated, evItemAdded}
	for range 200 { // ~6 MiB: far more than socket buffers hold
		events = append(events, delta)
	}
	a := newUpstream(t, script{events: events, block: release})
	fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", a)}}
	rl := New(fp, nil, Options{StreamIdle: 300 * time.Millisecond})
	srv := httptest.NewServer(rl.Handler("/responses"))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	body := `{"model":"gpt-5","stream":true,"input":"hi"}`
	fmt.Fprintf(conn, "POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// Read the status line only, then stop reading.
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		rl.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the request of a client that stopped reading was not ended")
	}
	_, leased, released := fp.snapshot()
	if released != len(leased) {
		t.Fatalf("slot not freed: %d leases, %d released", len(leased), released)
	}
}

func TestReadBodyBudget(t *testing.T) {
	b := NewBudget(1000)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", 600)))
	first, held, err := readBody(r, 4096, b)
	if err != nil || len(first) != 600 || held != 600 {
		t.Fatalf("first body: %d bytes, held %d, err %v", len(first), held, err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("b", 600)))
	if _, _, err := readBody(r, 4096, b); !errors.Is(err, errBodyBudget) {
		t.Fatalf("second body over budget: err %v, want errBodyBudget", err)
	}
	b.give(held)
	if b.Used() != 0 {
		t.Fatalf("budget used %d after release", b.Used())
	}
	// A zstd body of unknown size reserves as it grows, and gives it all
	// back when it turns out too large.
	bomb := zstded(t, []byte(strings.Repeat("z", 1<<20)))
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(bomb)))
	r.Header.Set("Content-Encoding", "zstd")
	r.ContentLength = -1
	if _, _, err := readBody(r, 4096, b); !errors.Is(err, errBodyTooLarge) && !errors.Is(err, errBodyBudget) {
		t.Fatalf("zstd bomb: err %v", err)
	}
	if b.Used() != 0 {
		t.Fatalf("budget used %d after a refused body", b.Used())
	}
}

var _ = session.SourceNone

// refusingPool is a fakePool whose token refresh finds the login dead.
type refusingPool struct{ *fakePool }

func (refusingPool) CanRefresh(*account.Account) bool { return true }
func (refusingPool) Refresh(_ context.Context, a *account.Account, _ string) error {
	return fmt.Errorf("account %s: token refresh refused (refresh_token_reused): %w", a.Name, account.ErrLoginExpired)
}

// A ChatGPT login whose refresh fails is explained to the client when no
// other account can serve: the account and the command to run, never the
// upstream's "sign in again", which would send the user to the wrong login.
func TestLoopDeadLoginExplained(t *testing.T) {
	up := newUpstream(t, script{status: 401, body: `{"error":{"message":"Your authentication token has expired. Please try signing in again.","type":"invalid_request_error","code":"token_expired"}}`})
	a, err := account.New(config.Account{Name: "chatgpt-main", Type: config.TypeOpenAIResponses, BaseURL: up.srv.URL,
		AccessToken: "not-a-jwt-access-token-0123456789", RefreshToken: "refresh-0123456789", AccountID: "acct-1", Weight: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakePool{accounts: []*account.Account{a}}
	rl := New(refusingPool{fp}, nil, Options{})
	resp, body := post(t, rl.Handler("/responses"), "conv-login", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "account_login_expired") ||
		!strings.Contains(body, "proxy accounts login chatgpt-main") || strings.Contains(body, "signing in again") {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
}
