package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// itemTTL is the items' TTL the cases use, the proxy's default.
const itemTTL = 7 * 24 * time.Hour

func testItemRecords(t *testing.T, e *env) {
	ctx := context.Background()
	s, prefix := e.store()
	got, err := s.ItemRecords(ctx, []string{"aa", "bb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != nil || got[1] != nil {
		t.Fatalf("ItemRecords before any = %q, want two nils", got)
	}
	if err := s.SetItemRecords(ctx, map[string][]byte{"aa": []byte(`{"a":"acct-a"}`), "cc": []byte(`{"a":"acct-b"}`)}, itemTTL); err != nil {
		t.Fatal(err)
	}
	got, err = s.ItemRecords(ctx, []string{"aa", "bb", "cc"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != `{"a":"acct-a"}` || got[1] != nil || string(got[2]) != `{"a":"acct-b"}` {
		t.Errorf("ItemRecords = %q, want acct-a, nil, acct-b in order", got)
	}
	if d := e.pttl(t, prefix+"item:aa"); d <= itemTTL-slack || d > itemTTL {
		t.Errorf("PTTL of an item record = %v, want %v", d, itemTTL)
	}
	if !e.canAdvance() {
		return
	}
	e.elapse(itemTTL + time.Second)
	got, err = s.ItemRecords(ctx, []string{"aa"})
	if err != nil || got[0] != nil {
		t.Errorf("ItemRecords after the TTL = %q, %v; want nil", got, err)
	}
}

// testConversationNotes: the notes beside a binding come with it from
// Lookup, Bind (new or not) and Rebind, even from the embedded store's own
// copy, and outlive the binding.
func testConversationNotes(t *testing.T, e *env) {
	ctx := context.Background()
	s, prefix := e.store()
	const session = "notes"
	if _, _, err := s.Bind(ctx, store.Binding{Session: session, Account: "acct-a"}, ttl); err != nil {
		t.Fatal(err)
	}
	// A hit first, so the embedded store answers from its copy after.
	if b, _, err := s.Lookup(ctx, session, ttl); err != nil || b.Minters != nil {
		t.Fatalf("Lookup before any note = %+v, %v; want no minters", b, err)
	}
	for _, m := range []string{"acct-a", "refused:reasoning:acct-b", "acct-a"} {
		if err := s.NoteConversation(ctx, session, m, itemTTL); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"acct-a", "refused:reasoning:acct-b"}
	check := func(what string, got []string) {
		t.Helper()
		got = slices.Sorted(slices.Values(got))
		if !slices.Equal(got, want) {
			t.Errorf("%s: Minters = %q, want %q", what, got, want)
		}
	}
	b, ok, err := s.Lookup(ctx, session, ttl)
	if err != nil || !ok {
		t.Fatalf("Lookup = %v, %v", ok, err)
	}
	check("Lookup", b.Minters)
	won, created, err := s.Bind(ctx, store.Binding{Session: session, Account: "acct-b"}, ttl)
	if err != nil || created {
		t.Fatalf("Bind over a binding = %v, %v", created, err)
	}
	check("Bind that lost", won.Minters)
	if err := s.Rebind(ctx, store.Binding{Session: session, Account: "acct-b"}, ttl); err != nil {
		t.Fatal(err)
	}
	b, _, _ = s.Lookup(ctx, session, ttl)
	check("Lookup after Rebind", b.Minters)
	if b.Account != "acct-b" {
		t.Errorf("Rebind: account = %s, want acct-b", b.Account)
	}
	if d := e.pttl(t, prefix+"minters:"+session); d <= itemTTL-slack || d > itemTTL {
		t.Errorf("PTTL of the notes = %v, want %v", d, itemTTL)
	}
	if err := s.NoteConversation(ctx, "", "x", itemTTL); err == nil {
		t.Error("NoteConversation with no session: no error")
	}
	if !e.canAdvance() {
		return
	}
	// The binding expires; the notes are there for the conversation's
	// next binding.
	e.elapse(ttl + time.Minute)
	if _, ok, _ := s.Lookup(ctx, session, ttl); ok {
		t.Fatal("the binding outlived its TTL")
	}
	nb, created, err := s.Bind(ctx, store.Binding{Session: session, Account: "acct-c"}, ttl)
	if err != nil || !created {
		t.Fatalf("Bind after expiry = %v, %v", created, err)
	}
	check("a new Bind of the conversation", nb.Minters)
}

// testKeptCompactions: kept requests are read back as kept, counted in
// their budget, and the oldest go when it is passed.
func testKeptCompactions(t *testing.T, e *env) {
	ctx := context.Background()
	s, prefix := e.store()
	if v, err := s.KeptCompaction(ctx, "none"); err != nil || v != nil {
		t.Fatalf("KeptCompaction of nothing = %q, %v", v, err)
	}
	blob := func(c byte) []byte { return bytes.Repeat([]byte{c}, 100) }
	const budget = 250
	for i, sum := range []string{"one", "two"} {
		n, err := s.KeepCompaction(ctx, sum, blob(byte('a'+i)), itemTTL, budget)
		if err != nil || n != 0 {
			t.Fatalf("KeepCompaction %s = %d, %v; want 0 evicted", sum, n, err)
		}
		e.elapse(time.Second)
	}
	if total, _ := s.KeptCompactionBytes(ctx); total != 200 {
		t.Errorf("kept bytes = %d, want 200", total)
	}
	// Kept again with the same sum: counted once.
	if _, err := s.KeepCompaction(ctx, "two", blob('b'), itemTTL, budget); err != nil {
		t.Fatal(err)
	}
	if total, _ := s.KeptCompactionBytes(ctx); total != 200 {
		t.Errorf("kept bytes after keeping one again = %d, want 200", total)
	}
	e.elapse(time.Second)
	n, err := s.KeepCompaction(ctx, "three", blob('c'), itemTTL, budget)
	if err != nil || n != 1 {
		t.Fatalf("KeepCompaction past the budget = %d evicted, %v; want 1", n, err)
	}
	if v, _ := s.KeptCompaction(ctx, "one"); v != nil {
		t.Error("the oldest kept compaction is still there past the budget")
	}
	for _, sum := range []string{"two", "three"} {
		if v, _ := s.KeptCompaction(ctx, sum); len(v) != 100 {
			t.Errorf("kept %s = %d bytes, want 100", sum, len(v))
		}
	}
	if total, _ := s.KeptCompactionBytes(ctx); total != 200 {
		t.Errorf("kept bytes after eviction = %d, want 200", total)
	}
	if d := e.pttl(t, prefix+"kept:three"); d <= itemTTL-slack || d > itemTTL {
		t.Errorf("PTTL of a kept compaction = %v, want %v", d, itemTTL)
	}
	// One larger than the whole budget is not kept, and evicts nothing.
	if n, err := s.KeepCompaction(ctx, "huge", bytes.Repeat([]byte{'h'}, 300), itemTTL, budget); err == nil || n != 0 {
		t.Errorf("KeepCompaction larger than the budget = %d evicted, %v; want an error and none", n, err)
	}
	if v, _ := s.KeptCompaction(ctx, "huge"); v != nil {
		t.Error("a kept compaction larger than the budget was kept")
	}
	if v, _ := s.KeptCompaction(ctx, "three"); len(v) != 100 {
		t.Error("keeping one larger than the budget evicted another")
	}

	// Remade compactions, per account.
	if v, err := s.Remade(ctx, "two", "acct-b"); err != nil || v != nil {
		t.Fatalf("Remade before any = %q, %v", v, err)
	}
	if err := s.SetRemade(ctx, "two", "acct-b", []byte(`{"type":"compaction"}`), itemTTL); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Remade(ctx, "two", "acct-b"); string(v) != `{"type":"compaction"}` {
		t.Errorf("Remade = %q", v)
	}
	if v, _ := s.Remade(ctx, "two", "acct-c"); v != nil {
		t.Errorf("another account's Remade = %q, want nil", v)
	}
}
