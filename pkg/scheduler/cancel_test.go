package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// ctxStore is a real store whose calls fail with ctx.Err() once their
// context has ended, as go-redis's do. cancelOn names the call during which
// the client goes away (its cancel runs first); fail, when set, makes every
// call fail with it, a real outage.
type ctxStore struct {
	*store.Store
	mu       sync.Mutex
	cancelOn string
	cancel   context.CancelFunc
	fail     error
}

func (c *ctxStore) enter(ctx context.Context, call string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelOn == call && c.cancel != nil {
		c.cancel()
	}
	if c.fail != nil {
		return c.fail
	}
	return ctx.Err()
}

// arm sets what the next calls do; disarm puts the store back to normal.
func (c *ctxStore) arm(cancelOn string, cancel context.CancelFunc, fail error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelOn, c.cancel, c.fail = cancelOn, cancel, fail
}

func (c *ctxStore) disarm() { c.arm("", nil, nil) }

func (c *ctxStore) Lookup(ctx context.Context, session string, ttl time.Duration) (store.Binding, bool, error) {
	if err := c.enter(ctx, "lookup"); err != nil {
		return store.Binding{}, false, err
	}
	return c.Store.Lookup(ctx, session, ttl)
}

func (c *ctxStore) Bind(ctx context.Context, b store.Binding, ttl time.Duration) (store.Binding, bool, error) {
	if err := c.enter(ctx, "bind"); err != nil {
		return store.Binding{}, false, err
	}
	return c.Store.Bind(ctx, b, ttl)
}

func (c *ctxStore) Rebind(ctx context.Context, b store.Binding, ttl time.Duration) error {
	if err := c.enter(ctx, "rebind"); err != nil {
		return err
	}
	return c.Store.Rebind(ctx, b, ttl)
}

// TestCancelledRequestIsNotAStoreOutage: a store call that fails because
// the request's context was cancelled (the client left) is not a store
// outage. It must not trip the breaker (every user would lose stickiness
// for seconds) nor log a warning; a real failure, or the store not
// answering before the call's deadline, does.
func TestCancelledRequestIsNotAStoreOutage(t *testing.T) {
	cancelled := func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
	tests := []struct {
		name       string
		ctx        func() (context.Context, context.CancelFunc)
		session    string // the request's session; "conv" is bound before
		cancelOn   string // the store call during which the client leaves
		fail       error  // every store call fails with it
		wantDetail string
		wantDown   bool
	}{
		{name: "client leaves during the lookup", ctx: cancelled, session: "conv", cancelOn: "lookup",
			wantDetail: "request cancelled during the store call"},
		{name: "client leaves during the bind of a new session", ctx: cancelled, session: "fresh", cancelOn: "bind",
			wantDetail: "request cancelled during the store call"},
		{name: "store reports a cancelled call, wrapped", ctx: cancelled, session: "conv",
			fail: fmt.Errorf("store: lookup x: %w", context.Canceled), wantDetail: "request cancelled during the store call"},
		// The deadline bounds the store call (the pool's selection timeout):
		// running out of it is the store not answering, an outage.
		{name: "deadline runs out during the lookup", session: "conv",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			},
			wantDetail: "store unavailable", wantDown: true},
		{name: "store outage trips the breaker", ctx: cancelled, session: "conv",
			fail: errors.New("dial unix /tmp/redis.sock: connect: connection refused"), wantDetail: "store unavailable", wantDown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := newStore(t)
			st := &ctxStore{Store: base}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			pool := account.NewPool([]*account.Account{acct(t, "a", 1), acct(t, "b", 1)})
			s := scheduler.New(pool, st, ttl, scheduler.WithSeed(9), scheduler.WithLogger(log))
			first, err := s.Select(context.Background(), scheduler.Request{Session: key("conv")})
			if err != nil || first.Reason != scheduler.ReasonNew {
				t.Fatalf("setup: %v %v", first.Reason, err)
			}

			ctx, cancel := tt.ctx()
			defer cancel()
			st.arm(tt.cancelOn, cancel, tt.fail)
			d, err := s.Select(ctx, scheduler.Request{Session: key(tt.session)})
			st.disarm()
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			// A conversation this instance served keeps its account (see
			// TestStoreDownKeepsConversationOnItsAccount); a new one is
			// placed without stickiness.
			wantReason := scheduler.ReasonSticky
			if tt.session != "conv" {
				wantReason = scheduler.ReasonUnsticky
			}
			if d.Reason != wantReason || !strings.HasPrefix(d.Detail, tt.wantDetail) {
				t.Errorf("decision %s (%q), want %s (%q)", d.Reason, d.Detail, wantReason, tt.wantDetail)
			}
			if got := s.StoreDown(); got != tt.wantDown {
				t.Errorf("StoreDown() = %v, want %v", got, tt.wantDown)
			}
			if warned := strings.Contains(logs.String(), "level=WARN"); warned != tt.wantDown {
				t.Errorf("warning logged = %v, want %v; log:\n%s", warned, tt.wantDown, logs.String())
			}

			next, err := s.Select(context.Background(), scheduler.Request{Session: key("conv")})
			if err != nil {
				t.Fatal(err)
			}
			wantNext := ""
			if tt.wantDown {
				wantNext = "store unavailable" // the breaker skips the store for a while
			}
			if next.Reason != scheduler.ReasonSticky || !strings.HasPrefix(next.Detail, wantNext) || (wantNext == "") != (next.Detail == "") {
				t.Fatalf("next request of the bound session: %s (%q), want sticky (%q)", next.Reason, next.Detail, wantNext)
			}
			if next.Account != first.Account {
				t.Fatalf("next request went to %s, bound to %s", next.Account.Name, first.Account.Name)
			}
		})
	}
}
