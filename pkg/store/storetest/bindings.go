package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/bound"
	"github.com/proxy-dev/proxy/pkg/store"
)

func binding(session, account string) store.Binding {
	return store.Binding{Session: session, Account: account, Type: "openai", Model: "gpt-5", Client: "laptop"}
}

// mustBind binds b and fails unless this call created it.
func mustBind(t *testing.T, s *store.Store, b store.Binding) store.Binding {
	t.Helper()
	got, created, err := s.Bind(context.Background(), b, ttl)
	if err != nil {
		t.Fatalf("Bind %s: %v", b.Session, err)
	}
	if !created {
		t.Fatalf("Bind %s: created = false on a new session", b.Session)
	}
	return got
}

func mustLookup(t *testing.T, s *store.Store, session string) (store.Binding, bool) {
	t.Helper()
	b, ok, err := s.Lookup(context.Background(), session, ttl)
	if err != nil {
		t.Fatalf("Lookup %s: %v", session, err)
	}
	return b, ok
}

// sameBinding compares with time.Equal, as times come back in UTC.
func sameBinding(t *testing.T, what string, got, want store.Binding) {
	t.Helper()
	if got.Session != want.Session || got.Account != want.Account || got.Type != want.Type ||
		got.Model != want.Model || got.Client != want.Client ||
		!got.Created.Equal(want.Created) || !got.LastUsed.Equal(want.LastUsed) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testLookupMiss(t *testing.T, e *env) {
	s, prefix := e.store()
	if b, ok := mustLookup(t, s, "missing"); ok {
		t.Fatalf("Lookup of an unknown session = %+v, want a miss", b)
	}
	if e.exists(t, sessionKey(prefix, "missing")) {
		t.Error("Lookup of an unknown session created its key")
	}
	if keys := e.keys(t, prefix); len(keys) != 0 {
		t.Errorf("Lookup of an unknown session wrote %q", keys)
	}
}

func testBindThenLookup(t *testing.T, e *env) {
	s, _ := e.store()
	want := binding("s1", "acct-a")
	want.Created, want.LastUsed = e.clock.Now(), e.clock.Now()

	got := mustBind(t, s, binding("s1", "acct-a"))
	sameBinding(t, "Bind", got, want)

	got, ok := mustLookup(t, s, "s1")
	if !ok {
		t.Fatal("Lookup after Bind missed")
	}
	sameBinding(t, "Lookup", got, want)
}

func testBindKeepsExisting(t *testing.T, e *env) {
	s, _ := e.store()
	first := mustBind(t, s, binding("s1", "acct-a"))
	e.elapse(time.Minute)

	got, created, err := s.Bind(context.Background(), binding("s1", "acct-b"), ttl)
	if err != nil {
		t.Fatalf("second Bind: %v", err)
	}
	if created {
		t.Error("second Bind: created = true, want false")
	}
	want := first
	want.LastUsed = e.clock.Now() // losing a race still uses the session
	sameBinding(t, "second Bind", got, want)
}

func testLookupRefreshesTTL(t *testing.T, e *env) {
	s, prefix := e.store()
	key := sessionKey(prefix, "s1")
	first := mustBind(t, s, binding("s1", "acct-a"))

	e.elapse(20 * time.Minute)
	if !e.canAdvance() {
		// The server's clock cannot move: age the key by hand instead.
		if err := e.raw(t, key).PExpire(context.Background(), key, ttl-20*time.Minute).Err(); err != nil {
			t.Fatalf("PEXPIRE: %v", err)
		}
	}
	if d := e.pttl(t, key); d > 10*time.Minute {
		t.Fatalf("PTTL after 20m = %v, want <= 10m", d)
	}

	got, ok := mustLookup(t, s, "s1")
	if !ok {
		t.Fatal("Lookup missed a live binding")
	}
	if d := e.pttl(t, key); d <= ttl-slack || d > ttl {
		t.Errorf("PTTL after Lookup = %v, want about %v", d, ttl)
	}
	want := first
	want.LastUsed = e.clock.Now()
	sameBinding(t, "Lookup", got, want)

	// LastUsed is stored, not just returned.
	e.elapse(time.Minute)
	got, _ = mustLookup(t, s, "s1")
	if !got.Created.Equal(first.Created) || !got.LastUsed.Equal(e.clock.Now()) {
		t.Errorf("second Lookup = %+v, want Created %v LastUsed %v", got, first.Created, e.clock.Now())
	}
}

func testExpiresWithoutRefresh(t *testing.T, e *env) {
	s, prefix := e.store()
	key := sessionKey(prefix, "s1")
	mustBind(t, s, binding("s1", "acct-a"))

	if !e.canAdvance() {
		// No clock to move on a real server: check the expiry is set right.
		if d := e.pttl(t, key); d <= ttl-slack || d > ttl {
			t.Errorf("PTTL after Bind = %v, want about %v", d, ttl)
		}
		return
	}
	e.elapse(ttl - time.Minute)
	if !e.exists(t, key) {
		t.Fatal("binding gone before its TTL")
	}
	e.elapse(2 * time.Minute)
	if b, ok := mustLookup(t, s, "s1"); ok {
		t.Fatalf("Lookup after TTL = %+v, want a miss", b)
	}
	if keys := e.keys(t, prefix); len(keys) != 0 {
		t.Errorf("after the TTL %q are left", keys)
	}
}

func testBindConcurrent(t *testing.T, e *env) {
	s, _ := e.store()
	const n = 20
	type result struct {
		b       store.Binding
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-startGate
			b, created, err := s.Bind(context.Background(), binding("race", fmt.Sprintf("acct-%d", i)), ttl)
			results[i] = result{b, created, err}
		})
	}
	close(startGate)
	wg.Wait()

	winner, creators := "", 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("Bind %d: %v", i, r.err)
		}
		if r.created {
			creators++
			winner = r.b.Account
		}
	}
	if creators != 1 {
		t.Fatalf("%d Binds created the binding, want exactly 1", creators)
	}
	for i, r := range results {
		if r.b.Account != winner {
			t.Errorf("Bind %d got account %q, the winner is %q", i, r.b.Account, winner)
		}
	}
	if got, _ := mustLookup(t, s, "race"); got.Account != winner {
		t.Errorf("Lookup after the race = %q, want the winner %q", got.Account, winner)
	}
}

func testRebind(t *testing.T, e *env) {
	s, prefix := e.store()
	ctx := context.Background()
	mustBind(t, s, binding("s1", "acct-a"))
	e.elapse(time.Minute)

	want := store.Binding{Session: "s1", Account: "acct-b", Type: "openai-responses", Model: "gpt-5-codex"}
	if err := s.Rebind(ctx, want, ttl); err != nil {
		t.Fatalf("Rebind: %v", err)
	}
	want.Created, want.LastUsed = e.clock.Now(), e.clock.Now()
	got, ok := mustLookup(t, s, "s1")
	if !ok {
		t.Fatal("Lookup after Rebind missed")
	}
	sameBinding(t, "Lookup after Rebind", got, want)
	if d := e.pttl(t, sessionKey(prefix, "s1")); d <= ttl-slack || d > ttl {
		t.Errorf("PTTL after Rebind = %v, want about %v", d, ttl)
	}

	// Rebind of a session with no binding simply creates one.
	if err := s.Rebind(ctx, binding("s2", "acct-c"), ttl); err != nil {
		t.Fatalf("Rebind of a new session: %v", err)
	}
	if got, ok := mustLookup(t, s, "s2"); !ok || got.Account != "acct-c" {
		t.Errorf("Lookup after Rebind of a new session = %+v, %v", got, ok)
	}
}

func testDrop(t *testing.T, e *env) {
	s, prefix := e.store()
	ctx := context.Background()
	mustBind(t, s, binding("s1", "acct-a"))
	if err := s.Drop(ctx, "s1"); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if b, ok := mustLookup(t, s, "s1"); ok {
		t.Fatalf("Lookup after Drop = %+v, want a miss", b)
	}
	if err := s.Drop(ctx, "s1"); err != nil {
		t.Errorf("Drop of a missing session: %v", err)
	}
	if keys := e.keys(t, prefix); len(keys) != 0 {
		t.Errorf("Drop left %q", keys)
	}
	// The session can be bound afresh, to another account.
	if got := mustBind(t, s, binding("s1", "acct-b")); got.Account != "acct-b" {
		t.Errorf("Bind after Drop = %q, want acct-b", got.Account)
	}
}

func testInvalidArguments(t *testing.T, e *env) {
	s, _ := e.store()
	ctx := context.Background()
	checks := []struct {
		name string
		err  error
	}{
		{"Lookup empty session", second(s.Lookup(ctx, "", ttl))},
		{"Lookup zero ttl", second(s.Lookup(ctx, "s1", 0))},
		{"Bind empty account", second(s.Bind(ctx, store.Binding{Session: "s1"}, ttl))},
		{"Bind zero ttl", second(s.Bind(ctx, binding("s1", "acct-a"), 0))},
		{"Rebind empty session", s.Rebind(ctx, store.Binding{Account: "acct-a"}, ttl)},
		{"Drop empty session", s.Drop(ctx, "")},
		{"AddUsage empty account", s.AddUsage(ctx, "", store.Usage{Requests: 1})},
	}
	for _, c := range checks {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if b, ok := mustLookup(t, s, "s1"); ok {
		t.Errorf("an invalid call left a binding: %+v", b)
	}
}

// second drops Bind's and Lookup's binding and flag, keeping the error.
func second(_ store.Binding, _ bool, err error) error { return err }

// testLookupKeepsAlive: a session used within every TTL lives on, in the
// store and on its server, however many TTLs it spans; left alone a full
// TTL, it is gone from both.
func testLookupKeepsAlive(t *testing.T, e *env) {
	s, prefix := e.store()
	key := sessionKey(prefix, "s1")
	first := mustBind(t, s, binding("s1", "acct-a"))
	for i := range 4 {
		e.elapse(ttl - time.Minute)
		got, ok := mustLookup(t, s, "s1")
		if !ok {
			t.Fatalf("Lookup %d, %v after the last use, missed", i, ttl-time.Minute)
		}
		want := first
		want.LastUsed = e.clock.Now()
		sameBinding(t, fmt.Sprintf("Lookup %d", i), got, want)
		if d := e.pttl(t, key); d <= ttl-slack || d > ttl {
			t.Fatalf("PTTL after Lookup %d = %v, want about %v", i, d, ttl)
		}
	}
	if bs := mustSessions(t, s); len(bs) != 1 || !bs[0].LastUsed.Equal(e.clock.Now()) {
		t.Fatalf("Sessions = %+v, want s1 last used %v", bs, e.clock.Now())
	}
	if !e.canAdvance() {
		return
	}
	e.elapse(ttl + time.Minute)
	if b, ok := mustLookup(t, s, "s1"); ok {
		t.Fatalf("Lookup after a TTL unused = %+v, want a miss", b)
	}
	if keys := e.keys(t, prefix); len(keys) != 0 {
		t.Errorf("after the TTL %q are left", keys)
	}
}

// testRebindAfterHits: a Rebind after sticky hits is what stays: no refresh
// of the old binding, written late, changes the new one's LastUsed.
func testRebindAfterHits(t *testing.T, e *env) {
	s, _ := e.store()
	mustBind(t, s, binding("s1", "acct-a"))
	for range 3 {
		e.elapse(time.Minute)
		mustLookup(t, s, "s1")
	}
	e.elapse(time.Minute)
	want := store.Binding{Session: "s1", Account: "acct-b", Type: "openai", Created: e.clock.Now(), LastUsed: e.clock.Now()}
	if err := s.Rebind(context.Background(), want, ttl); err != nil {
		t.Fatalf("Rebind: %v", err)
	}
	bs := mustSessions(t, s)
	if len(bs) != 1 {
		t.Fatalf("Sessions = %+v, want one", bs)
	}
	sameBinding(t, "Sessions after Rebind", bs[0], want)
	got, ok := mustLookup(t, s, "s1")
	if !ok {
		t.Fatal("Lookup after Rebind missed")
	}
	sameBinding(t, "Lookup after Rebind", got, want)
}

// testDropAfterHits: a Drop after sticky hits leaves nothing, neither in
// the store nor on its server, and a new binding of the session starts
// afresh.
func testDropAfterHits(t *testing.T, e *env) {
	s, prefix := e.store()
	ctx := context.Background()
	mustBind(t, s, binding("s1", "acct-a"))
	for range 3 {
		e.elapse(time.Minute)
		mustLookup(t, s, "s1")
	}
	if err := s.Drop(ctx, "s1"); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if keys := e.keys(t, prefix); len(keys) != 0 {
		t.Fatalf("Drop after hits left %q", keys)
	}
	if b, ok := mustLookup(t, s, "s1"); ok {
		t.Fatalf("Lookup after Drop = %+v, want a miss", b)
	}
	e.elapse(time.Minute)
	want := binding("s1", "acct-b")
	want.Created, want.LastUsed = e.clock.Now(), e.clock.Now()
	sameBinding(t, "Bind after Drop", mustBind(t, s, binding("s1", "acct-b")), want)
	bs := mustSessions(t, s)
	if len(bs) != 1 {
		t.Fatalf("Sessions = %+v, want one", bs)
	}
	sameBinding(t, "Sessions after Drop and Bind", bs[0], want)
}

// testConcurrentLookupAndDrop: Lookups racing a Drop cannot bring the
// dropped binding back once the Drop has returned.
func testConcurrentLookupAndDrop(t *testing.T, e *env) {
	s, prefix := e.store()
	ctx := context.Background()
	for round := range 20 {
		session := fmt.Sprintf("s%d", round)
		mustBind(t, s, binding(session, "acct-a"))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, _, err := s.Lookup(ctx, session, ttl); err != nil {
						t.Errorf("Lookup: %v", err)
						return
					}
				}
			})
		}
		if err := s.Drop(ctx, session); err != nil {
			t.Fatalf("Drop: %v", err)
		}
		close(stop)
		wg.Wait()
		if b, ok := mustLookup(t, s, session); ok {
			t.Fatalf("round %d: Lookup after Drop = %+v, want a miss", round, b)
		}
	}
	if keys := e.keys(t, prefix); len(keys) != 0 {
		t.Errorf("Drops left %q", keys)
	}
}

// testModelIsCut binds with a model far over bound.Model, as a client could
// send one: the binding returned, looked up, listed and kept on the server
// holds it cut. So does one an older instance wrote whole.
func testModelIsCut(t *testing.T, e *env) {
	ctx := context.Background()
	s, prefix := e.store()
	huge := strings.Repeat("m", 1<<20)
	b := binding("s1", "acct-a")
	b.Model = huge
	got := mustBind(t, s, b)
	listed := mustSessions(t, s)
	looked, _ := mustLookup(t, s, "s1")
	if len(listed) != 1 {
		t.Fatalf("Sessions = %d bindings, want 1", len(listed))
	}
	for what, m := range map[string]string{"Bind": got.Model, "Lookup": looked.Model, "Sessions": listed[0].Model} {
		if len(m) > bound.Model || !strings.HasPrefix(m, "mmm") {
			t.Errorf("%s: model of %d bytes, want at most %d", what, len(m), bound.Model)
		}
	}
	if kept := e.get(t, prefix+"session:s1"); len(kept) > 512 {
		t.Errorf("the server keeps a %d-byte binding", len(kept))
	}

	old := `{"account":"acct-a","model":"` + huge + `","created":1,"last_used":1}`
	if err := e.raw(t, prefix+"session:s2").Set(ctx, prefix+"session:s2", old, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if got, ok := mustLookup(t, s, "s2"); !ok || len(got.Model) > bound.Model {
		t.Errorf("an older instance's binding reads back with a %d-byte model (found %v)", len(got.Model), ok)
	}
}
