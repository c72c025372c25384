package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// TestRetryAfterCutFallsBackToAvoidedAccount: a turn cut mid-stream on
// primary is retried by the client; the retry goes to standby first, and
// when standby is rate limited it comes back to primary instead of passing
// standby's 429 (and its Retry-After) on.
func TestRetryAfterCutFallsBackToAvoidedAccount(t *testing.T) {
	primary := startUpstream(t, "primary", fakeupstream.WithAPIKey(keyA))
	standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
	primary.Script(fakeupstream.CutAfterDeltas(1))
	standby.Script(fakeupstream.RateLimited(30 * time.Second))
	p := startProxy(t, primaryAndStandby(primary, standby, ""), env)

	if _, _, body := post(t, p.URL, "conv"); !strings.Contains(body, "upstream_stream_interrupted") {
		t.Fatalf("the first turn was not cut:\n%s", body)
	}
	status, h, body := post(t, p.URL, "conv")
	if status != 200 || !strings.Contains(body, "Hello from primary.") || !strings.Contains(body, "response.completed") {
		t.Fatalf("the retry got %d (Retry-After %q), want primary's answer:\n%s", status, h.Get("Retry-After"), body)
	}
	if n := len(standby.Requests()); n != 1 {
		t.Fatalf("standby saw %d requests, want the one it refused", n)
	}
}
