package fakeupstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// This file is the Responses API's WebSocket transport ("WebSocket mode"), as
// Codex uses it: one GET .../responses upgraded to a WebSocket, then one
// text frame {"type":"response.create", ...request body...} per turn, each
// answered with the events the SSE stream would carry, one event per frame.
// A frame may name the previous response of its connection and then sends
// only the new input items.

// wsState is the WebSocket transport's settings and its open connections.
type wsState struct {
	enabled bool
	limit   int // frames a connection serves before websocket_connection_limit_reached; 0: no limit

	conns   map[*wsConn]struct{} // guarded by Server.mu
	refused int                  // upgrades answered 426; guarded by Server.mu
}

// wsConn is one upgraded connection, registered before the 101 goes out so
// a client that has its connection is sure to be counted and to be reached
// by CloseWebSockets.
type wsConn struct {
	cancel  context.CancelFunc // ends the connection's frames and hangs
	c       *websocket.Conn    // nil until Accept returns; guarded by Server.mu
	dropped bool               // set by CloseWebSockets; guarded by Server.mu
}

// wsSession is what one connection remembers between its frames.
type wsSession struct {
	frames int
	// last is the id of the last response completed on the connection: the
	// only one a frame's previous_response_id may name, as the real
	// upstream keeps a connection's responses in that connection alone.
	last string
}

// WithWebSocket makes the server accept WebSocket upgrades of GET
// .../responses, as the real Responses API does. Without it an upgrade is
// answered 426, which is how a test scripts an upstream that refuses the
// handshake (Codex then falls back to HTTP at once).
func WithWebSocket() Option {
	return func(s *Server) { s.ws.enabled = true }
}

// WithWebSocketLimit is WithWebSocket with connections that serve n frames:
// every later frame on the same connection is answered with the
// websocket_connection_limit_reached error the real upstream sends once a
// connection is an hour old, so a test can check that the client opens a
// new connection. A frame refused this way uses up no Fault.
func WithWebSocketLimit(n int) Option {
	return func(s *Server) {
		s.ws.enabled = true
		s.ws.limit = max(n, 0)
	}
}

// OpenWebSockets returns how many WebSocket connections are open: counted
// from just before the 101 is sent until the server drops the connection
// or notices that the client did.
func (s *Server) OpenWebSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ws.conns)
}

// RefusedUpgrades returns how many WebSocket upgrades were answered 426
// (the server was built without WithWebSocket, or the path was not
// .../responses). Each is also among Requests, as a GET.
func (s *Server) RefusedUpgrades() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ws.refused
}

// CloseWebSockets drops every open WebSocket connection without a close
// frame, as an upstream that dies or a load balancer that gives up does:
// the client sees the connection end abnormally (1006). The server goes on
// accepting new connections.
func (s *Server) CloseWebSockets() {
	s.mu.Lock()
	var open []*websocket.Conn
	var cancels []context.CancelFunc
	for wc := range s.ws.conns {
		wc.dropped = true
		cancels = append(cancels, wc.cancel)
		if wc.c != nil {
			open = append(open, wc.c)
		}
	}
	clear(s.ws.conns)
	s.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	for _, c := range open {
		_ = c.CloseNow() // an error only says it was already closed
	}
}

// serveUpgrade answers a WebSocket upgrade request, already recorded: 426
// unless WebSocket mode is on for this path, 401 for bad credentials, else
// the connection is served until either side drops it.
func (s *Server) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	if !s.ws.enabled || routeOf(r.URL.Path) != routeResponses {
		s.mu.Lock()
		s.ws.refused++
		s.mu.Unlock()
		// Codex's built-in provider falls back to HTTP at once on 426 (on
		// 404 it retries for seconds).
		writeError(w, http.StatusUpgradeRequired, apiError{
			Message: "WebSocket transport is not supported by this endpoint; use HTTP.",
			Type:    "invalid_request_error",
			Code:    "websocket_not_supported",
		})
		return
	}
	if e, ok := s.auth.check(r.Header); !ok {
		writeError(w, http.StatusUnauthorized, e)
		return
	}

	// Not r.Context(): once the connection is hijacked, net/http no longer
	// watches it, so only our own cancel ends the connection's work.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wc := &wsConn{cancel: cancel}
	if !s.addConn(wc) {
		writeError(w, http.StatusServiceUnavailable, apiError{Message: "fake upstream is closed", Type: "server_error"})
		return
	}
	defer s.removeConn(wc)

	h := w.Header()
	s.writeTurnState(h, r.Header)
	h.Set("X-Models-Etag", `"fake-`+s.name+`"`)
	h.Set("X-Reasoning-Included", "true")
	h.Set("Openai-Model", "gpt-5")
	s.writeRateLimitHeaders(h)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Codex sends no Origin; a fake has no browser to protect.
		InsecureSkipVerify: true,
		// Codex offers permessage-deflate; taking it exercises the
		// client's inflate path as the real upstream does.
		CompressionMode: websocket.CompressionNoContextTakeover,
	})
	if err != nil {
		return // Accept has answered the client
	}
	defer func() { _ = c.CloseNow() }()
	if !s.attachConn(wc, c) {
		return // dropped by CloseWebSockets while the 101 went out
	}
	c.SetReadLimit(maxBody)

	// A reader of its own keeps control frames answered and notices a
	// client that leaves while a frame is being served (or hangs).
	var q frameQueue
	q.ready = make(chan struct{}, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer cancel()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			q.push(data)
		}
	}()
	defer func() {
		_ = c.CloseNow()
		<-readDone
	}()

	var sess wsSession
	for {
		data, ok := q.pop(ctx, s.closing)
		if !ok {
			return
		}
		if !s.serveFrame(ctx, c, r, &sess, data) {
			return
		}
	}
}

// addConn registers a connection about to be upgraded; false once the
// server is closed.
func (s *Server) addConn(wc *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.ws.conns == nil {
		s.ws.conns = map[*wsConn]struct{}{}
	}
	s.ws.conns[wc] = struct{}{}
	return true
}

// attachConn gives a registered connection its WebSocket; false when
// CloseWebSockets dropped it in the meantime.
func (s *Server) attachConn(wc *wsConn, c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	wc.c = c
	return !wc.dropped
}

func (s *Server) removeConn(wc *wsConn) {
	s.mu.Lock()
	delete(s.ws.conns, wc)
	s.mu.Unlock()
}

// frameQueue holds the frames read but not yet served. It is unbounded so the
// reader never stops reading: a client that pipelines frames or leaves while
// one hangs is noticed at once.
type frameQueue struct {
	mu     sync.Mutex
	frames [][]byte
	ready  chan struct{} // capacity 1: a frame may be waiting
}

func (q *frameQueue) push(b []byte) {
	q.mu.Lock()
	q.frames = append(q.frames, b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop returns the next frame in arrival order, or false when the connection
// or the server ends first.
func (q *frameQueue) pop(ctx context.Context, closing <-chan struct{}) ([]byte, bool) {
	for {
		q.mu.Lock()
		if len(q.frames) > 0 {
			b := q.frames[0]
			q.frames = q.frames[1:]
			q.mu.Unlock()
			return b, true
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, false
		case <-closing:
			return nil, false
		}
	}
}

// wsFrameHead is the part of a frame that is not the request body proper.
type wsFrameHead struct {
	Type               string `json:"type"`
	PreviousResponseID string `json:"previous_response_id"`
	Generate           *bool  `json:"generate"`
}

// serveFrame answers one frame. It reports false when the connection is
// gone (dropped by a fault, the client or the server) and must not be read
// from again.
func (s *Server) serveFrame(ctx context.Context, c *websocket.Conn, r *http.Request, sess *wsSession, data []byte) bool {
	sess.frames++
	var head wsFrameHead
	_ = json.Unmarshal(data, &head) // a frame that is not JSON is answered below
	incremental := head.PreviousResponseID != "" && head.PreviousResponseID == sess.last
	s.recordFrame(r, data, head.PreviousResponseID, incremental)

	send := func(b []byte) bool { return c.Write(ctx, websocket.MessageText, b) == nil }
	if s.ws.limit > 0 && sess.frames > s.ws.limit {
		return send(wsErrorEvent(http.StatusBadRequest, wsError{
			Type:    "invalid_request_error",
			Code:    "websocket_connection_limit_reached",
			Message: "Responses websocket connection limit reached (60 minutes). Create a new websocket connection to continue.",
		}, nil))
	}

	// As on HTTP, quota and health come before the body is looked at.
	f := s.nextFault()
	if !f.waitBeforeHeaders(ctx, s.closing, s.hanging) {
		return false
	}
	if f.Status != 0 {
		if f.Hang != nil && !f.HangBeforeHeaders && !f.hang(ctx, s.closing, s.hanging) {
			return false
		}
		if f.cuts() {
			_ = c.CloseNow() // a truncated reply: the connection dies instead
			return false
		}
		return send(s.statusEvent(f))
	}

	req, berr := parseRequest(data)
	if berr != nil {
		return send(wsErrorEvent(berr.status, berr.apiError, nil))
	}
	if head.Type != "response.create" {
		return send(wsErrorEvent(http.StatusBadRequest, apiError{
			Message: fmt.Sprintf("Unsupported message type %q: send response.create.", head.Type),
			Type:    "invalid_request_error",
			Param:   "type",
		}, nil))
	}
	if head.PreviousResponseID != "" && !incremental {
		return send(wsErrorEvent(http.StatusBadRequest, wsError{
			Type:    "invalid_request_error",
			Code:    "previous_response_not_found",
			Message: fmt.Sprintf("Previous response with id '%s' not found.", head.PreviousResponseID),
			Param:   "previous_response_id",
		}, nil))
	}
	if s.auth.mode == authChatGPT && req.Store != nil && *req.Store {
		return send(wsErrorEvent(http.StatusBadRequest, apiError{Message: "Store must be set to false", Type: "invalid_request_error", Param: "store"}, nil))
	}
	if name := unsupportedParameter(data); s.auth.mode == authChatGPT && name != "" {
		return send(wsErrorEvent(http.StatusBadRequest, apiError{Message: "Unsupported parameter: " + name, Type: "invalid_request_error", Param: name}, nil))
	}
	if ref := s.checkItems(req); ref != nil {
		return send(s.wsRefusal(ref, req)) // refuse.go; the connection stays open
	}

	var t *turn
	if head.Generate != nil && !*head.Generate {
		t = s.newWarmupTurn(req)
	} else {
		t = s.newTurn(data, req, r.Header)
		f.echo(&t.text, r.Header, nil)
	}
	if incremental {
		t.base.PreviousResponseID = head.PreviousResponseID
	}
	events, limit := t.plan(f)
	sent := 0
	if !s.emit(ctx, events, limit, f, func(_ event, b []byte) error {
		if f.WSNotJSON != "" && sent == f.WSNotJSONAfter {
			if err := c.Write(ctx, websocket.MessageText, []byte(f.WSNotJSON)); err != nil {
				return err
			}
		}
		sent++
		return c.Write(ctx, websocket.MessageText, b)
	}) {
		return false
	}
	if limit < len(events) {
		_ = c.CloseNow() // CutAfter: the upstream dies mid-response
		return false
	}
	if events[len(events)-1].Type == "response.completed" {
		sess.last = t.respID
	}
	return true
}

// recordFrame keeps a frame as a Request, with the upgrade request's path
// and headers, since that is all the context a frame has.
func (s *Server) recordFrame(r *http.Request, body []byte, prev string, incremental bool) {
	req := Request{
		Method:             "WEBSOCKET",
		Path:               r.URL.Path,
		RawQuery:           r.URL.RawQuery,
		Header:             r.Header.Clone(),
		Body:               append([]byte(nil), body...),
		WebSocket:          true,
		PreviousResponseID: prev,
		Incremental:        incremental,
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
}

// wsError is an error object whose fields the real upstream sends exactly
// so: no null members.
type wsError struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// wsErrorEvent is the error event that stands in for an HTTP error status on
// a WebSocket, where the status line is long gone: Codex reads status,
// error and headers from it as it would from an HTTP reply.
func wsErrorEvent(status int, errObj any, headers map[string]string) []byte {
	b, _ := json.Marshal(struct { // cannot fail: plain data and raw JSON checked by the caller
		Type    string            `json:"type"`
		Status  int               `json:"status"`
		Error   any               `json:"error"`
		Headers map[string]string `json:"headers,omitempty"`
	}{"error", status, errObj, headers})
	return b
}

// statusEvent is a Status fault as a WebSocket error event: the error object
// and the headers the HTTP reply would carry.
func (s *Server) statusEvent(f Fault) []byte {
	status, body := f.statusReply()
	var errObj any
	var wrapper struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &wrapper) == nil && strings.HasPrefix(strings.TrimSpace(string(wrapper.Error)), "{") {
		errObj = wrapper.Error
	} else {
		// Not an OpenAI-shaped body (a gateway's HTML page): pass its text
		// on as the message, as a client would show it.
		kind := "invalid_request_error"
		if status >= 500 {
			kind = "server_error"
		}
		errObj = apiError{Message: strings.TrimSpace(string(body)), Type: kind}
	}
	h := http.Header{}
	s.writeRateLimitHeaders(h)
	f.applyHeader(h)
	h.Del("Content-Type")
	h.Del("Content-Length")
	var headers map[string]string
	if len(h) > 0 {
		headers = make(map[string]string, len(h))
		for k, vs := range h {
			headers[strings.ToLower(k)] = strings.Join(vs, ", ")
		}
	}
	return wsErrorEvent(status, errObj, headers)
}
