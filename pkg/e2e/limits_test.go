package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

func TestBodyOverLimitGets413(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "max_body_bytes: 2048\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	big := `{"model":"gpt-5","input":"` + strings.Repeat("x", 4096) + `"}`
	resp, err := http.Post(p.URL+"/v1/responses", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "max_body_bytes") || !strings.Contains(body, `"code":"request_too_large"`) {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if len(a.Requests()) != 0 {
		t.Fatal("an oversized body reached the upstream")
	}
}

// A full account is skipped for new sessions, and a sticky request waits
// briefly for a slot, then fails over.
func TestMaxConcurrency(t *testing.T) {
	small := startUpstream(t, "small", fakeupstream.WithAPIKey(keyA))
	other := startUpstream(t, "other", fakeupstream.WithAPIKey(keyB))
	hang := make(chan struct{})
	small.Script(fakeupstream.Fault{Hang: hang, HangAfter: 1})
	p := startProxy(t, "timeouts:\n  slot_wait: 50ms\naccounts:\n"+openaiAccount("small", small, "KEY_A", 1)+"    max_concurrency: 1\n"+openaiAccount("other", other, "KEY_B", 0), env)

	held := make(chan string)
	go func() {
		_, _, body := post(t, p.URL, "holder")
		held <- body
	}()
	waitForRequest(t, small, held)
	// "holder" is bound to small and holds its only slot. Its next turn
	// waits (slot_wait), then is served by other; a new session goes to
	// other at once.
	if _, _, body := post(t, p.URL, "newcomer"); !strings.Contains(body, "Hello from other.") {
		t.Fatalf("new session while small is full:\n%s", body)
	}
	if _, _, body := post(t, p.URL, "holder"); !strings.Contains(body, "Hello from other.") {
		t.Fatalf("sticky turn while its account is full:\n%s", body)
	}
	close(hang)
	if body := <-held; !strings.Contains(body, "Hello from small.") {
		t.Fatalf("held stream:\n%s", body)
	}
	if !strings.Contains(p.Logs.String(), "account busy (max_concurrency 1 reached)") {
		t.Fatalf("log does not say why the sticky turn moved:\n%s", p.Logs)
	}
}

// Stopping the proxy lets a stream in flight finish.
func TestGracefulShutdown(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	hang := make(chan struct{})
	a.Script(fakeupstream.Fault{Hang: hang, HangAfter: 2})
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	done := make(chan string)
	go func() {
		_, _, body := post(t, p.URL, "s")
		done <- body
	}()
	waitForRequest(t, a, done)
	stopped := make(chan struct{})
	go func() { p.stop(); close(stopped) }()
	// New connections are refused once shutdown has begun ...
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/healthz", nil)
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			break
		}
		resp.Body.Close()
	}
	// ... while the stream in flight runs to its end.
	close(hang)
	if body := <-done; !strings.Contains(body, "response.completed") {
		t.Fatalf("stream in flight was cut by shutdown:\n%s", body)
	}
	<-stopped
}
