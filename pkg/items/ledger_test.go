package items_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/store"
)

// newStore is a store on a miniredis of its own, as the proxy opens one.
func newStore(t *testing.T, now func() time.Time) (*store.Store, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	st := store.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}), store.Options{KeyPrefix: "t:", Now: now})
	t.Cleanup(func() { _ = st.Close() })
	return st, mr
}

func TestLedgerRecords(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 14, 2, 0, 0, time.UTC)
	st, mr := newStore(t, func() time.Time { return now })
	l := items.NewLedger(st, items.Options{Now: func() time.Time { return now }})
	r1 := items.Minted{Kind: items.Reasoning, Sum: items.SumOf([]byte("R1"))}
	c1 := items.Minted{Kind: items.Compaction, Sum: items.SumOf([]byte("C1")), Raw: []byte(`{"type":"compaction","encrypted_content":"C1"}`)}
	l.Note("sess", "acct-a", []items.Minted{r1, c1}, nil, 14)
	l.Note("sess", "acct-b", []items.Minted{{Kind: items.Reasoning, Sum: items.SumOf([]byte("R2"))}}, []string{"acct-b"}, 0)
	l.NoteRefused("sess", "acct-c", items.Reasoning)
	l.Close()

	l = items.NewLedger(st, items.Options{})
	defer l.Close()
	recs, err := l.Records(ctx, []items.Sum{r1.Sum, c1.Sum, items.SumOf([]byte("R2")), items.SumOf([]byte("never")), ""})
	if err != nil {
		t.Fatal(err)
	}
	if r := recs[r1.Sum]; r.Account != "acct-a" || !r.At.Equal(now) || r.Items != 0 {
		t.Errorf("reasoning record = %+v", r)
	}
	if r := recs[c1.Sum]; r.Account != "acct-a" || r.Items != 14 {
		t.Errorf("compaction record = %+v, want acct-a with 14 items", r)
	}
	if r := recs[items.SumOf([]byte("R2"))]; r.Account != "acct-b" {
		t.Errorf("second record = %+v", r)
	}
	if len(recs) != 3 {
		t.Errorf("Records has %d entries, want 3 (nothing for unknown sums)", len(recs))
	}
	// The conversation's notes: acct-a added, acct-b already known (not
	// written again), acct-c's refusal.
	notes, err := mr.Members("t:minters:sess")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(notes, ",") != "acct-a,refused:reasoning:acct-c" {
		t.Errorf("notes = %q", notes)
	}
	if ttl := mr.TTL("t:item:" + string(r1.Sum)); ttl != items.DefaultTTL {
		t.Errorf("record TTL = %v, want %v", ttl, items.DefaultTTL)
	}
}

func TestLedgerKeep(t *testing.T) {
	ctx := context.Background()
	st, mr := newStore(t, nil)
	body := sampleBody(t, "request-0.171-compaction-trigger.json")
	m := items.Minted{Kind: items.Compaction, Sum: items.SumOf([]byte("CMPBLOB3"))}
	released := make(chan struct{})
	l := items.NewLedger(st, items.Options{KeptBudget: 1 << 20})
	l.Keep(m, body, func() { close(released) })
	l.Close()
	<-released
	stored, err := mr.Get("t:kept:" + string(m.Sum))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept compaction: %d bytes for a %d-byte request", len(stored), len(body))
	if len(stored) >= len(body)/2 {
		t.Errorf("kept %d bytes for a %d-byte request: not compressed", len(stored), len(body))
	}
	l = items.NewLedger(st, items.Options{KeptBudget: 1 << 20})
	defer l.Close()
	got, err := l.Kept(ctx, m.Sum)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Kept = %d bytes, %v; want the request byte for byte", len(got), err)
	}
	if _, err := l.Kept(ctx, items.SumOf([]byte("other"))); err != items.ErrNotKept {
		t.Errorf("Kept of another = %v, want ErrNotKept", err)
	}

	remade := items.Minted{Kind: items.Compaction, Sum: items.SumOf([]byte("B-OWN")), Raw: []byte(`{"id":"cmp_b","type":"compaction","encrypted_content":"B-OWN"}`)}
	l.NoteRemade("sess", m.Sum, "acct-b", remade, 14, nil)
	l.Close()
	l = items.NewLedger(st, items.Options{})
	defer l.Close()
	if item, err := l.Remade(ctx, m.Sum, "acct-b"); err != nil || !bytes.Equal(item, remade.Raw) {
		t.Errorf("Remade = %s, %v", item, err)
	}
	if recs, _ := l.Records(ctx, []items.Sum{remade.Sum}); recs[remade.Sum].Account != "acct-b" {
		t.Errorf("the remade item's minter = %+v", recs[remade.Sum])
	}
}

func TestLedgerKeepsNothingWithoutBudget(t *testing.T) {
	st, mr := newStore(t, nil)
	l := items.NewLedger(st, items.Options{})
	released := false
	l.Keep(items.Minted{Kind: items.Compaction, Sum: "s"}, []byte("{}"), func() { released = true })
	l.Close()
	if !released || mr.Exists("t:kept:s") {
		t.Errorf("with no budget: released %v, kept %v", released, mr.Exists("t:kept:s"))
	}
}

// slowStore holds every record write until let go, so the ledger's queue
// fills.
type slowStore struct {
	*store.Store
	gate chan struct{}
	once sync.Once
	in   chan struct{}
}

func (s *slowStore) SetItemRecords(ctx context.Context, r map[string][]byte, ttl time.Duration) error {
	s.once.Do(func() { close(s.in) })
	<-s.gate
	return s.Store.SetItemRecords(ctx, r, ttl)
}

func TestLedgerQueueIsBounded(t *testing.T) {
	st, _ := newStore(t, nil)
	slow := &slowStore{Store: st, gate: make(chan struct{}), in: make(chan struct{})}
	var logs bytes.Buffer
	var mu sync.Mutex
	l := items.NewLedger(slow, items.Options{Queue: 1, Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))})
	note := func(blob string) {
		l.Note("", "acct-a", []items.Minted{{Kind: items.Reasoning, Sum: items.SumOf([]byte(blob))}}, nil, 0)
	}
	note("1")
	<-slow.in // the writer holds the first
	note("2") // waits in the queue
	note("3") // dropped: the call must not block
	close(slow.gate)
	l.Close()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "dropped") {
		t.Errorf("no word of the dropped write in the log:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestLedgerRecent: what an instance noted is part of its own next
// request's view at once, before the write reaches the store, and for a
// minute only.
func TestLedgerRecent(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st, _ := newStore(t, clock)
	slow := &slowStore{Store: st, gate: make(chan struct{}), in: make(chan struct{})}
	l := items.NewLedger(slow, items.Options{Now: clock, KeptBudget: 1 << 20})
	defer func() { close(slow.gate); l.Close() }()
	r1 := items.Minted{Kind: items.Reasoning, Sum: items.SumOf([]byte("R1"))}
	l.Note("sess", "acct-b", []items.Minted{r1}, []string{"acct-a"}, 0)
	l.NoteRefused("sess", "acct-a", items.Compaction)
	<-slow.in // the write is held: only the instance's memory knows

	got := l.Recent("sess", []string{"acct-a"})
	if strings.Join(got, ",") != "acct-a,acct-b,refused:compaction:acct-a" {
		t.Errorf("Recent = %q", got)
	}
	if got := l.Recent("other", []string{"x"}); strings.Join(got, ",") != "x" {
		t.Errorf("Recent of another conversation = %q", got)
	}
	recs, err := l.Records(ctx, []items.Sum{r1.Sum})
	if err != nil || recs[r1.Sum].Account != "acct-b" {
		t.Errorf("Records before the write = %+v, %v", recs, err)
	}
	// A compaction kept, and a remake made, while the writer is held: a
	// turn that moves at once finds both.
	body := []byte(`{"input":[{"type":"compaction_trigger"}]}`)
	c := items.Minted{Kind: items.Compaction, Sum: items.SumOf([]byte("C"))}
	l.Keep(c, body, nil)
	if got, err := l.Kept(ctx, c.Sum); err != nil || string(got) != string(body) {
		t.Errorf("Kept before the write = %q, %v", got, err)
	}
	remade := items.Minted{Kind: items.Compaction, Sum: items.SumOf([]byte("B")), Raw: []byte(`{"type":"compaction","encrypted_content":"B"}`)}
	l.NoteRemade("sess", c.Sum, "acct-b", remade, 3, nil)
	if got, err := l.Remade(ctx, c.Sum, "acct-b"); err != nil || string(got) != string(remade.Raw) {
		t.Errorf("Remade before the write = %q, %v", got, err)
	}
	now = now.Add(2 * time.Minute)
	if got := l.Recent("sess", nil); len(got) != 0 {
		t.Errorf("Recent a minute on = %q, want nothing", got)
	}
}
