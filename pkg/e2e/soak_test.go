package e2e_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// randomFaults scripts n requests of an upstream that fails at random:
// 5xx, overload as the first event, rate limits, cut streams.
func randomFaults(rnd *rand.Rand, n int) []fakeupstream.Fault {
	out := make([]fakeupstream.Fault, n)
	for i := range out {
		switch r := rnd.IntN(100); {
		case r < 12:
			out[i] = fakeupstream.Fault{Status: 500 + rnd.IntN(4)}
		case r < 20:
			out[i] = fakeupstream.Fault{FirstEventFailed: true}
		case r < 26:
			out[i] = fakeupstream.RateLimited(time.Second)
		case r < 30:
			out[i] = fakeupstream.Fault{CutAfter: 1 + rnd.IntN(4)}
		}
	}
	return out
}

var replyFrom = regexp.MustCompile(`Hello from ([a-z-]+)\.`)

// TestSoak: 200 concurrent conversations of 3 turns each against a pool
// where one account fails at random. Every request is either served or
// answered with a clear error, no goroutine is left once the proxy stops,
// and no conversation is served by more than two accounts.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	flaky := startUpstream(t, "flaky", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "steady-b", fakeupstream.WithAPIKey(keyB))
	c := startUpstream(t, "steady-c", fakeupstream.WithAPIKey(keyB))
	flaky.Script(randomFaults(rnd, 1000)...)
	baseline := runtime.NumGoroutine()
	p := startProxy(t, "accounts:\n"+openaiAccount("flaky", flaky, "KEY_A", 2)+openaiAccount("steady-b", b, "KEY_B", 1)+openaiAccount("steady-c", c, "KEY_B", 1), env)

	const sessions, turns = 200, 3
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: sessions}}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		servedBy = map[string]map[string]bool{}
		outcomes = map[string]int{}
	)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := fmt.Sprintf("soak-%03d", i)
			for range turns {
				req, _ := http.NewRequest(http.MethodPost, p.URL+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"go"}`))
				req.Header.Set("Session-Id", sess)
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("%s: %v", sess, err)
					return
				}
				var body strings.Builder
				_, _ = fmt.Fprint(&body, readAll(resp))
				kind := classifyAnswer(resp.StatusCode, body.String())
				mu.Lock()
				outcomes[kind]++
				if m := replyFrom.FindStringSubmatch(body.String()); m != nil && kind == "served" {
					if servedBy[sess] == nil {
						servedBy[sess] = map[string]bool{}
					}
					servedBy[sess][m[1]] = true
				}
				mu.Unlock()
				if kind == "unclear" {
					t.Errorf("%s: unclear answer %d:\n%s", sess, resp.StatusCode, body.String())
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("outcomes of %d requests: %v", sessions*turns, outcomes)
	if outcomes["served"] < sessions*turns*9/10 {
		t.Errorf("only %d of %d requests served", outcomes["served"], sessions*turns)
	}
	for sess, accts := range servedBy {
		if len(accts) > 2 {
			t.Errorf("session %s was served by %d accounts: %v", sess, len(accts), accts)
		}
	}

	p.stop()
	client.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // goroutines of closed connections unwinding
	}
	if n := runtime.NumGoroutine(); n > baseline+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left after the proxy stopped (baseline %d):\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

// classifyAnswer sorts a client-visible answer: a completed stream, a
// stream ended by response.failed, an OpenAI-shaped error, or neither.
func classifyAnswer(status int, body string) string {
	switch {
	case status == 200 && strings.Contains(body, "event: response.completed"):
		return "served"
	case status == 200 && strings.Contains(body, "event: response.failed"):
		return "failed-event"
	case status != 200:
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(body), &e) == nil && e.Error.Message != "" && e.Error.Type != "" {
			return fmt.Sprintf("error-%d", status)
		}
	}
	return "unclear"
}
