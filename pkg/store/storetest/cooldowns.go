package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

func testCooldowns(t *testing.T, e *env) {
	ctx := context.Background()
	s, _ := e.store()
	other, _ := e.store()
	quota := store.Cooldown{Account: "a", Reason: "quota", Message: "usage limit", Since: start, Until: start.Add(time.Hour)}
	invalid := store.Cooldown{Account: "b", Reason: "invalid", Message: "401", Since: start, Credential: "sk-...1234"}
	for _, c := range []store.Cooldown{quota, invalid} {
		if err := s.SetCooldown(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Cooldowns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"].Reason != "quota" || !got["a"].Until.Equal(quota.Until) ||
		got["b"].Credential != "sk-...1234" || !got["b"].Until.IsZero() {
		t.Fatalf("Cooldowns = %+v", got)
	}
	if o, _ := other.Cooldowns(ctx); len(o) != 0 {
		t.Fatalf("a store under another prefix sees cooldowns: %+v", o)
	}

	e.elapse(61 * time.Minute)
	got, _ = s.Cooldowns(ctx)
	if _, ok := got["a"]; ok || len(got) != 1 {
		t.Fatalf("after its until-time the quota cooldown is still active: %+v", got)
	}
	if err := s.ClearCooldown(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Cooldowns(ctx); len(got) != 0 {
		t.Fatalf("after ClearCooldown: %+v", got)
	}
}

func testCountFailure(t *testing.T, e *env) {
	ctx := context.Background()
	s, prefix := e.store()
	for want := int64(1); want <= 3; want++ {
		n, err := s.CountFailure(ctx, "a", time.Minute)
		if err != nil || n != want {
			t.Fatalf("CountFailure = %d, %v; want %d", n, err, want)
		}
	}
	if d := e.pttl(t, prefix+"failures:a"); d <= 0 || d > time.Minute {
		t.Fatalf("failure counter TTL %s, want within the window", d)
	}
	if err := s.ClearCooldown(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountFailure(ctx, "a", time.Minute); n != 1 {
		t.Fatalf("after a success the count restarts at 1, got %d", n)
	}
}

func testLock(t *testing.T, e *env) {
	ctx := context.Background()
	s, _ := e.store()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		held  int
		start = make(chan struct{})
	)
	unlocks := []func(){}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			unlock, ok, err := s.TryLock(ctx, "refresh:a", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				held++
				unlocks = append(unlocks, unlock)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if held != 1 {
		t.Fatalf("%d holders of one lock, want 1", held)
	}
	unlocks[0]()
	unlock, ok, err := s.TryLock(ctx, "refresh:a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lock not free after unlock: %v %v", ok, err)
	}
	unlock()
}

func testSecrets(t *testing.T, e *env) {
	ctx := context.Background()
	s, _ := e.store()
	if v, err := s.Secret(ctx, "tokens:a"); err != nil || v != nil {
		t.Fatalf("missing secret = %q, %v", v, err)
	}
	if err := s.SetSecret(ctx, "tokens:a", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Secret(ctx, "tokens:a"); err != nil || string(v) != `{"x":1}` {
		t.Fatalf("secret = %q, %v", v, err)
	}
}

// testWatchCooldowns: every set and clear is pushed to watchers on the
// same prefix, in order, and to no one under another prefix.
func testWatchCooldowns(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _ := e.store()
	other, _ := e.store()
	got := make(chan store.Cooldown, 8)
	if err := s.WatchCooldowns(ctx, func(c store.Cooldown) { got <- c }); err != nil {
		t.Fatal(err)
	}
	strays := make(chan store.Cooldown, 8)
	if err := other.WatchCooldowns(ctx, func(c store.Cooldown) { strays <- c }); err != nil {
		t.Fatal(err)
	}
	quota := store.Cooldown{Account: "a", Reason: "quota", Message: "usage limit", Since: start, Until: start.Add(time.Hour)}
	if err := s.SetCooldown(ctx, quota); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearCooldown(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"quota", ""} {
		select {
		case c := <-got:
			if c.Account != "a" || c.Reason != want {
				t.Fatalf("push %d = %+v, want account a reason %q", i, c, want)
			}
		case <-time.After(10 * time.Second): // a bound on the test only
			t.Fatalf("push %d never arrived", i)
		}
	}
	select {
	case c := <-strays:
		t.Fatalf("a watcher under another prefix heard %+v", c)
	default:
	}
}
