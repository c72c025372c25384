package relay

import (
	"context"
	"encoding/json"
	"net/http/httptest"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
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
