package relay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// gateway serves the relay's /responses on a loopback server, with no
// accounts: these tests are about the connection, not the routing.
func gateway(t *testing.T, lim WebSocketLimits, now func() time.Time) (*Relay, string) {
	t.Helper()
	rl := New(&fakePool{}, nil, Options{WebSocket: lim, Now: now})
	srv := httptest.NewServer(rl.Handler("/responses"))
	t.Cleanup(func() {
		rl.CloseWebSockets()
		srv.Close()
	})
	return rl, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialGateway(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _ := dialGatewayAnswer(t, url)
	return c
}

// dialGatewayAnswer is dialGateway with the upgrade's answer.
func dialGatewayAnswer(t *testing.T, url string) (*websocket.Conn, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, resp
}

// TestWebSocketPings: a client that answers pings (it reads, as Codex
// always does) keeps its connection; one that does not is closed once a
// ping goes unanswered.
func TestWebSocketPings(t *testing.T) {
	// A pong may take as long as the interval: generous for a loaded
	// machine, short for the test.
	rl, url := gateway(t, WebSocketLimits{Ping: 200 * time.Millisecond, Idle: time.Hour}, nil)

	deaf := dialGateway(t, url) // never reads, so never answers a ping
	_ = deaf

	healthy := dialGateway(t, url)
	ended := make(chan error, 1)
	go func() {
		_, _, err := healthy.Read(context.Background())
		ended <- err
	}()
	// The deaf one goes after its first unanswered ping, at once: a
	// client that does not answer pings will not answer a close either.
	deadline := time.Now().Add(10 * time.Second)
	for rl.OpenWebSockets() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want the deaf one closed", rl.OpenWebSockets())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The healthy one was pinged as often, and answered.
	select {
	case err := <-ended:
		t.Fatalf("the healthy connection ended: %v", err)
	default:
	}
}

// TestWebSocketMaxAge: a request on a connection past its lifetime is
// answered websocket_connection_limit_reached, and the connection closes.
func TestWebSocketMaxAge(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, url := gateway(t, WebSocketLimits{MaxAge: time.Hour, Idle: time.Hour, Ping: time.Hour}, clock)
	c := dialGateway(t, url)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"response.create","model":"gpt-5","input":[]}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type   string
		Status int
		Error  struct{ Code string }
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.Type != "error" || ev.Error.Code != "websocket_connection_limit_reached" {
		t.Fatalf("answer = %s", data)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("connection ended with %v, want a normal close", err)
	}
}

// TestWebSocketAnnouncesMessageLimit: the upgrade's 101 names the largest
// message the gateway reads (limits.websocket_message_bytes, else
// max_body_bytes), so Codex sends a larger request over HTTP; a message
// within it is served, and one past it still meets the clean 1009 close.
func TestWebSocketAnnouncesMessageLimit(t *testing.T) {
	warmup := `{"type":"response.create","model":"gpt-5","generate":false,"input":[]}`
	tests := []struct {
		name      string
		maxBody   int64
		message   int64
		announced int64
	}{
		{name: "default: max_body_bytes", maxBody: 8 << 10, announced: 8 << 10},
		{name: "a bound of its own", maxBody: 64 << 10, message: 4 << 10, announced: 4 << 10},
		{name: "never past max_body_bytes", maxBody: 4 << 10, message: 64 << 10, announced: 4 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := New(&fakePool{}, nil, Options{MaxBodyBytes: tt.maxBody, WebSocket: WebSocketLimits{Message: tt.message}})
			srv := httptest.NewServer(rl.Handler("/responses"))
			t.Cleanup(func() {
				rl.CloseWebSockets()
				srv.Close()
			})
			url := "ws" + strings.TrimPrefix(srv.URL, "http")
			dial := func() *websocket.Conn {
				c, resp := dialGatewayAnswer(t, url)
				if got := resp.Header.Get(MaxMessageHeader); got != strconv.FormatInt(tt.announced, 10) {
					t.Fatalf("101 %s = %q, want %d", MaxMessageHeader, got, tt.announced)
				}
				return c
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			// Exactly the bound: served (the warmup, padded with spaces).
			c := dial()
			fits := warmup + strings.Repeat(" ", int(tt.announced)-len(warmup))
			if err := c.Write(ctx, websocket.MessageText, []byte(fits)); err != nil {
				t.Fatal(err)
			}
			if _, data, err := c.Read(ctx); err != nil || !strings.Contains(string(data), `"response.created"`) {
				t.Fatalf("a message of the announced size: %s, %v; want it served", data, err)
			}

			// One byte past it: closed with 1009 naming the setting.
			c = dial()
			if err := c.Write(ctx, websocket.MessageText, []byte(fits+" ")); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.Read(ctx)
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig || !strings.Contains(err.Error(), "limits.websocket_message_bytes") {
				t.Fatalf("one byte past the bound: %v; want close 1009 naming limits.websocket_message_bytes", err)
			}
		})
	}
}
