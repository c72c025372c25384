package e2e_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

func TestReloadSwapsAccountsAndRejectsBadFiles(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	hang := make(chan struct{})
	a.Script(fakeupstream.Fault{Hang: hang, HangAfter: 2})
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)

	// A stream in flight on a ...
	inFlight := make(chan string)
	go func() {
		_, _, body := post(t, p.URL, "long")
		inFlight <- body
	}()
	waitForRequest(t, a, inFlight)

	// ... survives a reload that disables a and adds b.
	err := p.rewrite(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+"    enabled: false\n"+openaiAccount("b", b, "KEY_B", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, body := post(t, p.URL, "new"); !strings.Contains(body, "Hello from b.") {
		t.Fatalf("after reload a new session got:\n%s", body)
	}
	close(hang)
	if body := <-inFlight; !strings.Contains(body, "Hello from a.") || !strings.Contains(body, "response.completed") {
		t.Fatalf("the stream in flight did not finish on its account:\n%s", body)
	}

	// A bad file is rejected with its problems and the running config stays.
	err = p.rewrite(t, "accounts:\n  - name: x\n    type: opnai\n")
	var problems config.Problems
	if !errors.As(err, &problems) || !strings.Contains(err.Error(), `accounts[0].type: "opnai" is not one of`) {
		t.Fatalf("bad reload: %v", err)
	}
	if _, _, body := post(t, p.URL, "after-bad"); !strings.Contains(body, "Hello from b.") {
		t.Fatalf("after a rejected reload:\n%s", body)
	}
}
