package relay

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"weak"

	"github.com/proxy-dev/proxy/pkg/account"
)

// TestBodyReleasedOnceSent fails if the request body is still referenced
// while its answer streams: a long conversation's megabytes must not stay
// alive for the minutes a stream runs.
func TestBodyReleasedOnceSent(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := newUpstream(t, script{events: []string{evCreated, evItemAdded, `{"type":"response.output_text.delta","delta":"first"}`}, block: release})
	fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", up)}}
	budget := NewBudget(1 << 30)
	rl := New(fp, nil, Options{Bodies: budget})

	var seen weak.Pointer[byte]
	bodyRead = func(b []byte) { seen = weak.Make(&b[0]) }
	defer func() { bodyRead = nil }()

	srv := httptest.NewServer(rl.Handler("/responses"))
	defer srv.Close()
	big := `{"model":"gpt-5","stream":true,"input":"` + strings.Repeat("x", 4<<20) + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/responses", strings.NewReader(big))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read until the first output: the stream is open, and the upstream
	// holds it open until the test ends.
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before its output: %v", err)
		}
		if strings.Contains(line, "first") {
			break
		}
	}
	for range 5 {
		runtime.GC()
	}
	if seen.Value() != nil {
		t.Fatal("the request body is still referenced while its answer streams")
	}
	if n := budget.Used(); n != 0 {
		t.Fatalf("the body budget still holds %d bytes while the answer streams", n)
	}
}
