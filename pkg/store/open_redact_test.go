package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// TestOpenErrorsHidePasswords covers the places a Redis URL can carry a
// password beyond redis://:PASS@host, each of which once reached a startup
// error: a password given as the user name, as a query parameter (Sentinel
// URLs), inside an addr= value, and in a URL so malformed that net/url
// quotes the piece of the password it choked on.
func TestOpenErrorsHidePasswords(t *testing.T) {
	down := closedPort(t)
	// Most URLs fail to parse on purpose (a bad database or option):
	// the error names the URL all the same, and no dial is waited for.
	cases := []struct {
		name string
		url  string
		want string // substring of the error
	}{
		{"password as user name", "redis://" + secret + "@" + down + "/x", "invalid database number"},
		{"password query parameter", "redis://" + down + "/0?master_name=mymaster&password=" + secret + "&dial_timeout=soon", "password=[redacted]"},
		{"sentinel password in user info", "redis://:" + secret + "@" + down + "/0?master_name=mymaster&dial_timeout=soon", "dial_timeout"},
		{"user info in addr", "redis://" + down + "?addr=u:" + secret + "@h&dial_timeout=soon", "addr=[redacted]@h"},
		{"user info in addr, too many colons", "redis://" + down + "?addr=u:" + secret + "@h:1:2", "unable to parse addr param"},
		{"password read as a port", "redis://:" + secret + "/x@" + down, "details withheld"},
		{"escaped password", "redis://:" + strings.Replace(secret, "3", "%33", 1) + "@" + down + "/x", "invalid database number"},
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
			if strings.Contains(msg, secret) || strings.Contains(msg, strings.Replace(secret, "3", "%33", 1)) {
				t.Fatal("error shows the password") // and so must not be printed
			}
			if !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q, want it to start with \"store: \" and mention %q", msg, c.want)
			}
		})
	}
}
