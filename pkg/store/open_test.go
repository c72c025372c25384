package store_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/proxy-dev/proxy/pkg/store"
)

const secret = "s3cr3t-pw"

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestOpenErrors checks that a bad or unreachable URL fails Open with an
// error that says what failed and never shows the password.
func TestOpenErrors(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireAuth("right-password")
	down := closedPort(t)

	cases := []struct {
		name string
		url  string
		want string // substring of the error
	}{
		{"unreachable", "redis://:" + secret + "@" + down + "/0", down},
		{"wrong password", "redis://:" + secret + "@" + mr.Addr(), mr.Addr()},
		{"bad scheme", "http://:" + secret + "@" + down, "invalid URL scheme"},
		{"bad database", "redis://:" + secret + "@" + down + "/x", "invalid database number"},
		{"unparsable", "redis://:" + secret + "@[::1", "unparsable url"},
		{"bad option", "redis://:" + secret + "@" + down + "/0?dial_timeout=soon", "dial_timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := store.Open(ctx, store.Options{URL: c.url})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, secret) {
				t.Fatal("error shows the password") // and so must not be printed
			}
			t.Log(msg)
			if !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to start with \"store: \" and mention %q", msg, c.want)
			}
		})
	}
}
