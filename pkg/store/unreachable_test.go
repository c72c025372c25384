package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/proxy-dev/proxy/pkg/store"
)

// TestOpenUnreachable checks which failures mark Redis as unreachable (a
// caller may serve on without it) and that SkipPing opens one anyway.
func TestOpenUnreachable(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireAuth("right-password")
	tests := []struct {
		name string
		url  string
		want bool // errors.Is(err, store.ErrUnreachable)
		// wait bounds the ping: a refused dial is retried with backoff for
		// seconds, and a deadline is as unreachable as a refusal.
		wait time.Duration
	}{
		{"nothing listens", "redis://" + closedPort(t) + "/0", true, 200 * time.Millisecond},
		{"wrong password", "redis://:" + secret + "@" + mr.Addr(), false, 10 * time.Second},
		{"bad url", "http://" + closedPort(t), false, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			s, err := store.Open(ctx, store.Options{URL: tt.url})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if got := errors.Is(err, store.ErrUnreachable); got != tt.want {
				t.Errorf("errors.Is(%q, ErrUnreachable) = %v, want %v", err, got, tt.want)
			}
		})
	}

	t.Run("SkipPing opens it anyway", func(t *testing.T) {
		s, err := store.Open(context.Background(), store.Options{URL: "redis://" + closedPort(t) + "/0", SkipPing: true})
		if err != nil {
			t.Fatalf("Open with SkipPing: %v", err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, _, err := s.Lookup(ctx, "none", time.Minute); err == nil {
			t.Error("a lookup on a Redis that is down succeeded")
		}
	})
}
