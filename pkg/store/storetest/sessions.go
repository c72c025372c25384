package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

func mustSessions(t *testing.T, s *store.Store) []store.Binding {
	t.Helper()
	bs, err := s.Sessions(context.Background())
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	return bs
}

func testSessions(t *testing.T, e *env) {
	s, _ := e.store()
	if bs := mustSessions(t, s); len(bs) != 0 {
		t.Fatalf("Sessions of an empty store = %+v", bs)
	}
	var want []store.Binding
	for _, id := range []string{"s1", "s2", "s3"} {
		want = append([]store.Binding{mustBind(t, s, binding(id, "acct-"+id))}, want...)
		e.elapse(time.Second)
	}
	got := mustSessions(t, s)
	if len(got) != len(want) {
		t.Fatalf("Sessions = %d bindings %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		sameBinding(t, "Sessions (most recent first)", got[i], want[i])
	}
}

func testPrefixIsolation(t *testing.T, e *env) {
	ctx := context.Background()
	s1, _ := e.store()
	s2, _ := e.store()

	b1 := mustBind(t, s1, binding("shared", "acct-1"))
	b2 := mustBind(t, s2, binding("shared", "acct-2")) // created: s1's binding is invisible
	mustAdd(t, s1, "acct", store.Usage{Requests: 1})

	if got, _ := mustLookup(t, s1, "shared"); got.Account != b1.Account {
		t.Errorf("store 1 sees account %q, want %q", got.Account, b1.Account)
	}
	if got, _ := mustLookup(t, s2, "shared"); got.Account != b2.Account {
		t.Errorf("store 2 sees account %q, want %q", got.Account, b2.Account)
	}
	if u := mustUsage(t, s2, "acct"); u != (store.Usage{}) {
		t.Errorf("store 2 sees store 1's usage %+v", u)
	}
	if err := s2.Drop(ctx, "shared"); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if _, ok := mustLookup(t, s1, "shared"); !ok {
		t.Error("Drop in store 2 removed store 1's binding")
	}
	if bs := mustSessions(t, s1); len(bs) != 1 || bs[0].Account != "acct-1" {
		t.Errorf("store 1 Sessions = %+v, want only its own", bs)
	}
	if bs := mustSessions(t, s2); len(bs) != 0 {
		t.Errorf("store 2 Sessions = %+v, want none", bs)
	}
}

// testSessionsSeeHits: a listing shows the LastUsed of every Lookup that
// returned before it, at once.
func testSessionsSeeHits(t *testing.T, e *env) {
	s, _ := e.store()
	b1 := mustBind(t, s, binding("s1", "acct-a"))
	e.elapse(time.Second)
	b2 := mustBind(t, s, binding("s2", "acct-b"))
	e.elapse(time.Minute)
	if _, ok := mustLookup(t, s, "s1"); !ok {
		t.Fatal("Lookup s1 missed")
	}
	b1.LastUsed = e.clock.Now()
	got := mustSessions(t, s)
	if len(got) != 2 {
		t.Fatalf("Sessions = %+v, want 2", got)
	}
	sameBinding(t, "Sessions[0]", got[0], b1)
	sameBinding(t, "Sessions[1]", got[1], b2)
}
