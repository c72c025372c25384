package health_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/store"
)

// fakeClock moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is one Redis shared by any number of trackers ("instances").
type env struct {
	mr    *miniredis.Miniredis
	clock *fakeClock
}

func newEnv(t *testing.T) *env {
	return &env{mr: miniredis.RunT(t), clock: newClock()}
}

// store returns a new client on the shared Redis, as another instance
// would have.
func (e *env) store(t *testing.T) *store.Store {
	t.Helper()
	st := store.New(redis.NewClient(&redis.Options{Addr: e.mr.Addr()}), store.Options{KeyPrefix: "t:", Now: e.clock.Now})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func (e *env) tracker(t *testing.T) (*health.Tracker, *store.Store) {
	st := e.store(t)
	return health.New(st, health.WithClock(e.clock.Now)), st
}

func apiAccount(t *testing.T, name, key string) *account.Account {
	t.Helper()
	a, err := account.New(config.Account{Name: name, Type: config.TypeOpenAI, BaseURL: "http://127.0.0.1:1/v1", APIKey: key, Weight: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func chatgptAccount(t *testing.T, name string, maxConc int) *account.Account {
	t.Helper()
	a, err := account.New(config.Account{Name: name, Type: config.TypeOpenAIResponses, AccessToken: "at-" + name + "-0123456789abcdef",
		RefreshToken: "rt-" + name, AccountID: "acct-" + name, Weight: 1, Enabled: true, MaxConcurrency: maxConc})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func storedCooldowns(t *testing.T, st *store.Store) map[string]store.Cooldown {
	t.Helper()
	cs, err := st.Cooldowns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestTrackerReportCooldowns(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// outcome builds the reported outcome at now.
		outcome    func(now time.Time) health.Outcome
		wantReason string
		wantFor    time.Duration // how long after now the cooldown ends
		// wantMessage, when set, is the cooldown's whole message.
		wantMessage string
	}{
		{
			name: "quota until the reset the upstream gave",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 429, http.Header{}, []byte(`{"error":{"type":"usage_limit_reached","resets_at":`+unix(now.Add(5*time.Hour))+`}}`), nil)
			},
			wantReason: "quota", wantFor: 5 * time.Hour,
		},
		{
			name: "quota with resets_in_seconds",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 429, http.Header{}, []byte(`{"error":{"type":"usage_limit_reached","resets_in_seconds":120}}`), nil)
			},
			wantReason: "quota", wantFor: 2 * time.Minute,
		},
		{
			name: "quota with no reset: default 1h",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 429, http.Header{}, []byte(`{"error":{"type":"insufficient_quota"}}`), nil)
			},
			wantReason: "quota", wantFor: time.Hour,
		},
		{
			name: "quota whose reset is already past: default 1h",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 429, http.Header{}, []byte(`{"error":{"type":"usage_limit_reached","resets_at":`+unix(now.Add(-time.Minute))+`}}`), nil)
			},
			wantReason: "quota", wantFor: time.Hour,
		},
		{
			name: "rate limit with Retry-After",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 429, hdr("Retry-After", "12"), []byte(`{"error":{"code":"rate_limit_exceeded"}}`), nil)
			},
			wantReason: "rate_limit", wantFor: 12 * time.Second,
		},
		{
			name: "rate limit without Retry-After: default 30s",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 429, http.Header{}, []byte(`{"error":{"code":"rate_limit_exceeded"}}`), nil)
			},
			wantReason: "rate_limit", wantFor: 30 * time.Second,
		},
		{
			name: "overloaded inside a stream: 15s at once",
			outcome: func(time.Time) health.Outcome {
				return health.ClassifyStreamFailure("server_is_overloaded", "Our servers are currently overloaded.", "")
			},
			wantReason: "overloaded", wantFor: 15 * time.Second,
			wantMessage: "stream failed: Our servers are currently overloaded. (server_is_overloaded); cooling down 15s",
		},
		{
			name: "503 server_is_overloaded: 15s at once",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 503, http.Header{}, []byte(`{"error":{"type":"server_error","code":"server_is_overloaded"}}`), nil)
			},
			wantReason: "overloaded", wantFor: 15 * time.Second,
		},
		{
			name: "quota inside a stream: default 1h",
			outcome: func(time.Time) health.Outcome {
				return health.ClassifyStreamFailure("", "The usage limit has been reached", "usage_limit_reached")
			},
			wantReason: "quota", wantFor: time.Hour,
		},
		{
			name: "rate limit inside a stream: default 30s",
			outcome: func(time.Time) health.Outcome {
				return health.ClassifyStreamFailure("rate_limit_exceeded", "slow down", "")
			},
			wantReason: "rate_limit", wantFor: 30 * time.Second,
		},
		{
			name: "403 HTML from a gateway: 5 minutes, not invalid",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 403, hdr("Content-Type", "text/html"), []byte("<html><h1>403 Forbidden</h1></html>"), nil)
			},
			wantReason: "forbidden", wantFor: 5 * time.Minute,
			wantMessage: "403 from a gateway (HTML page); cooling down 5m",
		},
		{
			name: "403 region refusal: 5 minutes, not invalid",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 403, http.Header{}, []byte(`{"error":{"type":"request_forbidden","code":"unsupported_country_region_territory","message":"Country, region, or territory not supported"}}`), nil)
			},
			wantReason: "forbidden", wantFor: 5 * time.Minute,
		},
		{
			name: "200 HTML page, not the API: 5 minutes, as a 403 that is not about the credential",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 200, hdr("Content-Type", "text/html"), []byte("<html>"), nil)
			},
			wantReason: "not_api", wantFor: 5 * time.Minute,
			wantMessage: "answered 200 text/html, not the API; cooling down 5m",
		},
		{
			name: "307 redirect, not the API: 5 minutes",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 307, hdr("Location", "https://portal.example/x?k=1"), nil, nil)
			},
			wantReason: "not_api", wantFor: 5 * time.Minute,
			wantMessage: "redirected (307) to portal.example, not the API; cooling down 5m",
		},
		{
			name: "not found: 10 minutes",
			outcome: func(now time.Time) health.Outcome {
				return health.Classify(now, 404, http.Header{}, []byte("404 page not found"), nil)
			},
			wantReason: "not_found", wantFor: 10 * time.Minute,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tr, st := e.tracker(t)
			a := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
			now := e.clock.Now()

			c, started := tr.Report(ctx, a, tc.outcome(now))
			if !started {
				t.Fatalf("Report started no cooldown")
			}
			wantUntil := now.Add(tc.wantFor)
			if c.Reason != tc.wantReason || !c.Until.Equal(wantUntil) || c.Account != "api" || !c.Since.Equal(now) {
				t.Errorf("cooldown = %+v, want reason %q until %v since %v", c, tc.wantReason, wantUntil, now)
			}
			if c.Message == "" {
				t.Errorf("cooldown has no message")
			}
			if tc.wantMessage != "" && c.Message != tc.wantMessage {
				t.Errorf("cooldown message = %q, want %q", c.Message, tc.wantMessage)
			}
			if c.Credential != "" {
				t.Errorf("a %s cooldown is bound to the credential, as an invalid mark is", c.Reason)
			}
			if e.mr.Exists("t:failures:api") {
				t.Errorf("a %s counted toward the failure streak", c.Reason)
			}
			got, ok := tr.Cooldown(a)
			if !ok || !got.Until.Equal(wantUntil) {
				t.Errorf("Cooldown = %+v, %v; want until %v", got, ok, wantUntil)
			}
			if sc, ok := storedCooldowns(t, st)["api"]; !ok || !sc.Until.Equal(wantUntil) || sc.Reason != tc.wantReason {
				t.Errorf("stored cooldown = %+v, %v; want reason %q until %v", sc, ok, tc.wantReason, wantUntil)
			}

			// Just before the end it still holds; at the end it is over.
			e.clock.Add(tc.wantFor - time.Nanosecond)
			if _, ok := tr.Cooldown(a); !ok {
				t.Errorf("cooldown over 1ns before its end")
			}
			if len(tr.Cooldowns()) != 1 {
				t.Errorf("Cooldowns() = %v, want the one active cooldown", tr.Cooldowns())
			}
			e.clock.Add(time.Nanosecond)
			if c, ok := tr.Cooldown(a); ok {
				t.Errorf("cooldown %+v still active at its end", c)
			}
			if cs := tr.Cooldowns(); len(cs) != 0 {
				t.Errorf("Cooldowns() = %v after expiry, want none", cs)
			}
			if cs := storedCooldowns(t, st); len(cs) != 0 {
				t.Errorf("store still reports %v as active after expiry", cs)
			}
		})
	}
}

func TestTrackerNoCooldown(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		outcome health.Outcome
	}{
		{"ok", health.Classify(classifyNow, 200, hdr("Content-Type", "text/event-stream"), nil, nil)},
		{"client error", health.Classify(classifyNow, 400, http.Header{}, []byte(`{"error":{"code":"context_length_exceeded"}}`), nil)},
		{"model_not_found", health.Classify(classifyNow, 404, http.Header{}, []byte(`{"error":{"code":"model_not_found"}}`), nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tr, st := e.tracker(t)
			a := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
			if c, started := tr.Report(ctx, a, tc.outcome); started {
				t.Errorf("Report started cooldown %+v", c)
			}
			if _, ok := tr.Cooldown(a); ok {
				t.Errorf("account cooling down")
			}
			if cs := storedCooldowns(t, st); len(cs) != 0 {
				t.Errorf("stored cooldowns %v, want none", cs)
			}
			if e.mr.Exists("t:failures:api") {
				t.Errorf("a %s counted as a failure", tc.name)
			}
		})
	}
}

func TestTrackerFailureStreak(t *testing.T) {
	ctx := context.Background()
	serverErr := health.Classify(classifyNow, 502, http.Header{}, []byte("bad gateway"), nil)
	netErr := health.Classify(classifyNow, 0, nil, nil, context.DeadlineExceeded)
	ok := health.Outcome{Class: health.OK, Status: 200}

	type step struct {
		outcome health.Outcome
		advance time.Duration // redis time moved before this step
	}
	tests := []struct {
		name        string
		steps       []step
		wantCooling bool
	}{
		{"two failures do not cool down", []step{{outcome: serverErr}, {outcome: serverErr}}, false},
		{"three failures do", []step{{outcome: serverErr}, {outcome: serverErr}, {outcome: serverErr}}, true},
		{"network and 5xx add up", []step{{outcome: netErr}, {outcome: serverErr}, {outcome: netErr}}, true},
		{"a success in between starts over",
			[]step{{outcome: serverErr}, {outcome: serverErr}, {outcome: ok}, {outcome: serverErr}, {outcome: serverErr}}, false},
		{"failures further apart than the window do not add up",
			[]step{{outcome: serverErr}, {outcome: serverErr}, {outcome: serverErr, advance: time.Minute + time.Second}}, false},
		{"failures within the window add up",
			[]step{{outcome: serverErr}, {outcome: serverErr, advance: 50 * time.Second}, {outcome: serverErr, advance: 50 * time.Second}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tr, st := e.tracker(t)
			a := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
			var last store.Cooldown
			var started bool
			for i, s := range tc.steps {
				if s.advance > 0 {
					e.clock.Add(s.advance)
					e.mr.FastForward(s.advance)
				}
				last, started = tr.Report(ctx, a, s.outcome)
				if started && i != len(tc.steps)-1 {
					t.Fatalf("step %d started a cooldown early: %+v", i, last)
				}
			}
			if started != tc.wantCooling {
				t.Fatalf("cooldown started = %v, want %v (%+v)", started, tc.wantCooling, last)
			}
			_, cooling := tr.Cooldown(a)
			_, stored := storedCooldowns(t, st)["api"]
			if cooling != tc.wantCooling || stored != tc.wantCooling {
				t.Errorf("cooling = %v, stored = %v, want %v", cooling, stored, tc.wantCooling)
			}
			if tc.wantCooling {
				now := e.clock.Now()
				if !last.Until.Equal(now.Add(30*time.Second)) || last.Reason == "" {
					t.Errorf("cooldown = %+v, want 30s from %v", last, now)
				}
				e.clock.Add(30 * time.Second)
				if _, ok := tr.Cooldown(a); ok {
					t.Errorf("failure cooldown outlived 30s")
				}
			}
		})
	}
}

func TestTrackerSuccessClearsCooldownAndStreak(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tr, st := e.tracker(t)
	a := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
	fail := health.Outcome{Class: health.ServerError, Status: 500, Message: "500 Internal Server Error"}
	for range 3 {
		tr.Report(ctx, a, fail)
	}
	if _, ok := tr.Cooldown(a); !ok {
		t.Fatal("3 failures started no cooldown")
	}
	if n, err := e.mr.Get("t:failures:api"); err != nil || n != "3" {
		t.Fatalf("failure counter = %q, %v; want 3", n, err)
	}

	if c, started := tr.Report(ctx, a, health.Outcome{Class: health.OK, Status: 200}); started {
		t.Fatalf("success started cooldown %+v", c)
	}
	if c, ok := tr.Cooldown(a); ok {
		t.Errorf("cooldown %+v survived a success", c)
	}
	if cs := storedCooldowns(t, st); len(cs) != 0 {
		t.Errorf("store keeps cooldowns %v after a success", cs)
	}
	if e.mr.Exists("t:failures:api") {
		t.Errorf("store keeps the failure streak after a success")
	}

	// The streak starts from zero: one failure is one.
	tr.Report(ctx, a, fail)
	if n, _ := e.mr.Get("t:failures:api"); n != "1" {
		t.Errorf("failure counter after success+1 failure = %q, want 1", n)
	}

}

func TestTrackerSuccessOnOtherInstanceAfterSync(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a1, _ := e.tracker(t)
	a2, st := e.tracker(t)
	acc := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
	a1.Report(ctx, acc, health.Classify(e.clock.Now(), 429, http.Header{}, []byte(`{"error":{"code":"rate_limit_exceeded"}}`), nil))
	if err := a2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := a2.Cooldown(acc); !ok {
		t.Fatal("instance 2 did not pick up instance 1's cooldown")
	}
	a2.Report(ctx, acc, health.Outcome{Class: health.OK, Status: 200})
	if cs := storedCooldowns(t, st); len(cs) != 0 {
		t.Errorf("store keeps %v after instance 2 served a request", cs)
	}
	if err := a1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok := a1.Cooldown(acc); ok {
		t.Errorf("instance 1 still sees %+v after syncing", c)
	}
}

func TestTrackerSync(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	t1, _ := e.tracker(t)
	t2, _ := e.tracker(t)
	a := chatgptAccount(t, "gpt", 0)

	c, _ := t1.Report(ctx, a, health.Classify(e.clock.Now(), 429, http.Header{}, []byte(`{"error":{"type":"usage_limit_reached","resets_in_seconds":600}}`), nil))
	if _, ok := t2.Cooldown(a); ok {
		t.Fatal("instance 2 knows the cooldown before syncing")
	}
	if err := t2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, ok := t2.Cooldown(a)
	if !ok || got.Reason != "quota" || !got.Until.Equal(c.Until) {
		t.Fatalf("after Sync Cooldown = %+v, %v; want %+v", got, ok, c)
	}
	e.clock.Add(10 * time.Minute)
	if _, ok := t2.Cooldown(a); ok {
		t.Errorf("synced cooldown outlived its end")
	}
	if err := t2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if cs := t2.Cooldowns(); len(cs) != 0 {
		t.Errorf("expired cooldown loaded by Sync: %v", cs)
	}
}

func TestTrackerInvalidCredential(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		outcome health.Outcome
	}{
		{"401", health.Classify(classifyNow, 401, http.Header{}, []byte(`{"error":{"code":"invalid_api_key"}}`), nil)},
		{"403 naming the key", health.Classify(classifyNow, 403, http.Header{}, []byte(`{"error":{"type":"invalid_request_error","code":"invalid_api_key"}}`), nil)},
		{"403 deactivated account", health.Classify(classifyNow, 403, http.Header{}, []byte(`{"error":{"message":"This account has been deactivated."}}`), nil)},
		{"error event naming the key", health.ClassifyStreamFailure("invalid_api_key", "Incorrect API key provided.", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tr, st := e.tracker(t)
			a := apiAccount(t, "api", "sk-old-0123456789abcdefghij")
			c, started := tr.Report(ctx, a, tc.outcome)
			if !started || c.Reason != "invalid" || !c.Until.IsZero() || c.Credential != a.CredentialID() {
				t.Fatalf("cooldown = %+v (started %v), want invalid, no end, bound to %q", c, started, a.CredentialID())
			}
			if c.Credential == "" {
				t.Fatal("invalid mark bound to no credential")
			}
			sc, ok := storedCooldowns(t, st)["api"]
			if !ok || sc.Credential != a.CredentialID() || sc.Reason != "invalid" {
				t.Errorf("stored = %+v, %v", sc, ok)
			}
			// No end: a year later the same key is still refused.
			e.clock.Add(365 * 24 * time.Hour)
			if _, ok := tr.Cooldown(a); !ok {
				t.Errorf("invalid mark expired with time")
			}
			// The same key reloaded (a new *Account) is still refused.
			if _, ok := tr.Cooldown(apiAccount(t, "api", "sk-old-0123456789abcdefghij")); !ok {
				t.Errorf("invalid mark ignored for the same key")
			}
			// The key fixed in the config: the mark no longer applies.
			fixed := apiAccount(t, "api", "sk-new-0123456789abcdefghij")
			if c, ok := tr.Cooldown(fixed); ok {
				t.Errorf("invalid mark %+v applied to a new key", c)
			}
			// ... on another instance too.
			other, _ := e.tracker(t)
			if err := other.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := other.Cooldown(a); !ok {
				t.Errorf("other instance ignores the mark for the old key")
			}
			if _, ok := other.Cooldown(fixed); ok {
				t.Errorf("other instance applies the mark to the new key")
			}
		})
	}
}

func TestTrackerInvalidate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tr, st := e.tracker(t)
	a := chatgptAccount(t, "gpt", 0)
	c := tr.Invalidate(ctx, a, "refresh token revoked")
	if c.Reason != "invalid" || c.Message != "refresh token revoked" || c.Credential != a.CredentialID() || !c.Until.IsZero() {
		t.Errorf("Invalidate = %+v", c)
	}
	if _, ok := tr.Cooldown(a); !ok {
		t.Errorf("invalidated account not cooling down")
	}
	if _, ok := storedCooldowns(t, st)["gpt"]; !ok {
		t.Errorf("invalid mark not stored")
	}
	// A new login (new refresh token) ends it.
	relogged, err := account.New(config.Account{Name: "gpt", Type: config.TypeOpenAIResponses, AccessToken: "at-new-0123456789abcdef", RefreshToken: "rt-new", AccountID: "acct-gpt", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Cooldown(relogged); ok {
		t.Errorf("mark survives a new login")
	}
}

func TestTrackerSlotsUnbounded(t *testing.T) {
	tr := health.New(nil)
	a := chatgptAccount(t, "gpt", 0)
	var releases []func()
	for range 10 {
		if !tr.HasSlot(a) {
			t.Fatal("unbounded account has no slot")
		}
		rel, ok := tr.Acquire(context.Background(), a, 0)
		if !ok {
			t.Fatal("Acquire failed on an unbounded account")
		}
		releases = append(releases, rel)
	}
	if n := tr.InFlight("gpt"); n != 10 {
		t.Errorf("InFlight = %d, want 10", n)
	}
	for _, r := range releases {
		r()
	}
	if n := tr.InFlight("gpt"); n != 0 {
		t.Errorf("InFlight after release = %d, want 0", n)
	}
	if n := tr.InFlight("unknown"); n != 0 {
		t.Errorf("InFlight(unknown) = %d", n)
	}
}

func TestTrackerSlotsBounded(t *testing.T) {
	ctx := context.Background()
	tr := health.New(nil)
	a := chatgptAccount(t, "gpt", 2)

	r1, ok1 := tr.Acquire(ctx, a, 0)
	r2, ok2 := tr.Acquire(ctx, a, 0)
	if !ok1 || !ok2 {
		t.Fatal("two slots of two not granted")
	}
	if tr.HasSlot(a) {
		t.Error("HasSlot true with every slot taken")
	}
	if n := tr.InFlight("gpt"); n != 2 {
		t.Errorf("InFlight = %d, want 2", n)
	}

	t.Run("no wait fails at once", func(t *testing.T) {
		if rel, ok := tr.Acquire(ctx, a, 0); ok {
			rel()
			t.Fatal("third slot granted")
		}
	})
	t.Run("a wait that elapses fails", func(t *testing.T) {
		if rel, ok := tr.Acquire(ctx, a, time.Millisecond); ok {
			rel()
			t.Fatal("third slot granted after waiting")
		}
	})
	t.Run("a cancelled context ends the wait", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if rel, ok := tr.Acquire(cctx, a, time.Hour); ok {
			rel()
			t.Fatal("slot granted to a cancelled request")
		}
	})
	t.Run("a release hands the slot to a waiter", func(t *testing.T) {
		got := make(chan bool)
		var rel3 func()
		go func() {
			var ok bool
			rel3, ok = tr.Acquire(ctx, a, time.Minute)
			got <- ok
		}()
		r1()
		if !<-got {
			t.Fatal("waiter not served after a release")
		}
		if tr.HasSlot(a) {
			t.Error("HasSlot true: the waiter holds the freed slot")
		}
		if n := tr.InFlight("gpt"); n != 2 {
			t.Errorf("InFlight = %d, want 2", n)
		}
		rel3()
	})
	r2()
	if !tr.HasSlot(a) {
		t.Error("HasSlot false with every slot released")
	}
	if n := tr.InFlight("gpt"); n != 0 {
		t.Errorf("InFlight after every release = %d, want 0", n)
	}
}

// TestTrackerSlotsReload covers a config reload that changes an account's
// max_concurrency while streams are in flight: once they end, nothing may
// remain counted.
func TestTrackerSlotsReload(t *testing.T) {
	ctx := context.Background()
	tr := health.New(nil)
	before := chatgptAccount(t, "gpt", 2)
	rel, ok := tr.Acquire(ctx, before, 0)
	if !ok {
		t.Fatal("Acquire failed")
	}
	after := chatgptAccount(t, "gpt", 3) // reloaded with a new bound
	if !tr.HasSlot(after) {
		t.Fatal("no slot after the bound was raised")
	}
	if n := tr.InFlight("gpt"); n != 1 {
		t.Errorf("InFlight after reload = %d, want the 1 stream still running", n)
	}
	rel()
	if n := tr.InFlight("gpt"); n != 0 {
		t.Errorf("InFlight after the last stream ended across a reload = %d, want 0", n)
	}
}

func TestObserveLimits(t *testing.T) {
	clock := newClock()
	reset1 := clock.Now().Add(2 * time.Hour).Truncate(time.Second)
	reset2 := clock.Now().Add(72 * time.Hour).Truncate(time.Second)
	tests := []struct {
		name    string
		header  http.Header
		want    *health.Limits // nil: nothing recorded
		wantPri *health.Window
		wantSec *health.Window
	}{
		{
			name: "both windows",
			header: hdr(
				"x-codex-primary-used-percent", "42.5",
				"x-codex-primary-window-minutes", "300",
				"x-codex-primary-reset-at", unix(reset1),
				"x-codex-secondary-used-percent", "7",
				"x-codex-secondary-window-minutes", "10080",
				"x-codex-secondary-reset-at", unix(reset2),
				"x-codex-credits-has-credits", "false",
			),
			want:    &health.Limits{},
			wantPri: &health.Window{UsedPercent: 42.5, WindowMinutes: 300, ResetsAt: reset1},
			wantSec: &health.Window{UsedPercent: 7, WindowMinutes: 10080, ResetsAt: reset2},
		},
		{
			name:    "primary only, no window or reset",
			header:  hdr("X-Codex-Primary-Used-Percent", "100"),
			want:    &health.Limits{},
			wantPri: &health.Window{UsedPercent: 100},
		},
		{
			name:    "secondary only",
			header:  hdr("X-Codex-Secondary-Used-Percent", "0", "X-Codex-Secondary-Reset-At", unix(reset2)),
			want:    &health.Limits{},
			wantSec: &health.Window{UsedPercent: 0, ResetsAt: reset2},
		},
		{
			name:   "no x-codex headers",
			header: hdr("X-Request-Id", "req_1", "Openai-Model", "gpt-5"),
		},
		{
			name:   "unparsable percent",
			header: hdr("X-Codex-Primary-Used-Percent", "lots", "X-Codex-Primary-Reset-At", unix(reset1)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := health.New(nil, health.WithClock(clock.Now))
			tr.ObserveLimits("gpt", tc.header)
			got, ok := tr.Limits("gpt")
			if tc.want == nil {
				if ok {
					t.Fatalf("Limits recorded %+v from headers without windows", got)
				}
				return
			}
			if !ok {
				t.Fatal("no limits recorded")
			}
			if !got.Observed.Equal(clock.Now()) {
				t.Errorf("Observed = %v, want %v", got.Observed, clock.Now())
			}
			checkWindow(t, "primary", got.Primary, tc.wantPri)
			checkWindow(t, "secondary", got.Secondary, tc.wantSec)
		})
	}

	t.Run("a response without windows keeps the last ones", func(t *testing.T) {
		tr := health.New(nil, health.WithClock(clock.Now))
		tr.ObserveLimits("gpt", hdr("X-Codex-Primary-Used-Percent", "55"))
		tr.ObserveLimits("gpt", hdr("X-Request-Id", "r"))
		got, ok := tr.Limits("gpt")
		if !ok || got.Primary == nil || got.Primary.UsedPercent != 55 {
			t.Errorf("Limits = %+v, %v; want primary 55%% kept", got, ok)
		}
		if _, ok := tr.Limits("other"); ok {
			t.Errorf("limits recorded for an account never observed")
		}
	})
}

func checkWindow(t *testing.T, which string, got, want *health.Window) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s = %+v, want none", which, *got)
	case want != nil && got == nil:
		t.Errorf("%s missing, want %+v", which, *want)
	case want != nil:
		if got.UsedPercent != want.UsedPercent || got.WindowMinutes != want.WindowMinutes || !got.ResetsAt.Equal(want.ResetsAt) {
			t.Errorf("%s = %+v, want %+v", which, *got, *want)
		}
	}
}

// TestTrackerShortCooldownsWithOlderPolicy: a Policy built before
// OverloadCooldown and ForbiddenCooldown existed leaves them zero, which
// must not make those cooldowns end at once.
func TestTrackerShortCooldownsWithOlderPolicy(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		outcome health.Outcome
		wantFor time.Duration
	}{
		{"overloaded", health.ClassifyStreamFailure("server_is_overloaded", "", ""), health.DefaultPolicy.OverloadCooldown},
		{"forbidden", health.Classify(classifyNow, 403, http.Header{}, []byte("<html></html>"), nil), health.DefaultPolicy.ForbiddenCooldown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := health.DefaultPolicy
			p.OverloadCooldown, p.ForbiddenCooldown = 0, 0
			tr := health.New(e.store(t), health.WithClock(e.clock.Now), health.WithPolicy(p))
			a := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
			c, started := tr.Report(ctx, a, tc.outcome)
			if want := e.clock.Now().Add(tc.wantFor); !started || !c.Until.Equal(want) {
				t.Fatalf("cooldown = %+v (started %v), want until %v", c, started, want)
			}
		})
	}
}

// TestTrackerSuccessClearsOverload: an overload cooldown is this instance's
// to clear as soon as the account serves a request again.
func TestTrackerSuccessClearsOverload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tr, st := e.tracker(t)
	a := apiAccount(t, "api", "sk-test-0123456789abcdefghij")
	if _, started := tr.Report(ctx, a, health.ClassifyStreamFailure("server_is_overloaded", "", "")); !started {
		t.Fatal("overload started no cooldown")
	}
	tr.Report(ctx, a, health.Outcome{Class: health.OK, Status: 200})
	if c, ok := tr.Cooldown(a); ok {
		t.Errorf("cooldown %+v survived a success", c)
	}
	if cs := storedCooldowns(t, st); len(cs) != 0 {
		t.Errorf("store keeps cooldowns %v after a success", cs)
	}
}
