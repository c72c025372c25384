package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// BenchmarkLookupHit is the sticky hot path: one MULTI/EXEC round trip.
func BenchmarkLookupHit(b *testing.B) {
	ctx := context.Background()
	s := openEmbedded(b, newClock())
	if _, _, err := s.Bind(ctx, store.Binding{Session: "hit", Account: "a", Type: "openai", Model: "gpt-5"}, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.Lookup(ctx, "hit", time.Hour); err != nil || !ok {
			b.Fatalf("Lookup = %v, %v", ok, err)
		}
	}
}

// BenchmarkBindNew is a conversation's first request: Bind of a new session.
func BenchmarkBindNew(b *testing.B) {
	ctx := context.Background()
	s := openEmbedded(b, newClock())
	bd := store.Binding{Account: "a", Type: "openai", Model: "gpt-5"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		bd.Session = strconv.Itoa(i)
		if _, created, err := s.Bind(ctx, bd, time.Hour); err != nil || !created {
			b.Fatalf("Bind = %v, %v", created, err)
		}
	}
}
