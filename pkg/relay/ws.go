package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/session"
)

// WebSocketLimits bound the WebSocket gateway (the transport Codex's
// built-in provider, and a provider with supports_websockets, prefer).
type WebSocketLimits struct {
	// Conns is how many client WebSocket connections may be open at once;
	// default 256. One more is answered 503 before the upgrade, and Codex
	// goes on over HTTP. Negative: no WebSockets at all (426, upon which
	// Codex uses HTTP at once).
	Conns int
	// Idle closes a connection that has had no request for this long;
	// default 15 minutes. Codex opens a new one for its next request.
	Idle time.Duration
	// Ping is how often an idle connection is pinged, so one whose client
	// vanished is found and closed; default 30 s (a pong must come within
	// the same time).
	Ping time.Duration
	// MaxAge is a connection's lifetime: the first request after it is
	// answered websocket_connection_limit_reached, which Codex retries on
	// a new connection; default 60 minutes, as the OpenAI API does.
	MaxAge time.Duration
	// Message bounds one client message; default, and at most,
	// MaxBodyBytes. The upgrade's answer announces it in
	// MaxMessageHeader, and Codex 0.170+ sends a larger request over HTTP
	// (complete), where MaxBodyBytes bounds it: set it below MaxBodyBytes
	// so a conversation too large for the WebSocket still goes through.
	Message int64
}

// MaxMessageHeader is the upgrade's answer header naming the largest
// message the gateway reads; Codex reads it and sends a larger request
// over HTTP instead of meeting a 1009 close.
const MaxMessageHeader = "X-Codex-Websocket-Max-Message-Bytes"

func (l WebSocketLimits) withDefaults() WebSocketLimits {
	if l.Conns == 0 {
		l.Conns = 256
	}
	if l.Idle <= 0 {
		l.Idle = 15 * time.Minute
	}
	if l.Ping <= 0 {
		l.Ping = 30 * time.Second
	}
	if l.MaxAge <= 0 {
		l.MaxAge = time.Hour
	}
	return l
}

// wsGate is the gateway's process-wide state.
type wsGate struct {
	slots    chan struct{}   // one per open client connection
	draining chan struct{}   // closed when shutdown starts
	kill     context.Context // cancelled to end every connection now
	killAll  context.CancelFunc

	// mu orders connections entering against shutdown: once drained, none
	// enters, so waiting on open can begin.
	mu      sync.Mutex
	drained bool
	open    sync.WaitGroup // open client connections
}

// enter counts a connection in, unless shutdown has begun.
func (g *wsGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.drained {
		return false
	}
	g.open.Add(1)
	return true
}

// drain stops new connections and tells open ones to end.
func (g *wsGate) drain() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.drained {
		g.drained = true
		close(g.draining)
	}
}

func newWSGate(l WebSocketLimits) *wsGate {
	kill, killAll := context.WithCancel(context.Background())
	return &wsGate{slots: make(chan struct{}, max(l.Conns, 0)), draining: make(chan struct{}), kill: kill, killAll: killAll}
}

// DrainWebSockets starts the gateway's shutdown: idle connections are
// closed now (going away), busy ones once their request ends. Register it
// with http.Server.RegisterOnShutdown: the server does not track
// connections it handed over.
func (rl *Relay) DrainWebSockets() { rl.ws.drain() }

// WaitWebSockets drains the gateway (the server runs its shutdown hooks in
// goroutines of their own, so this one may not have run yet) and waits
// until every client WebSocket connection has ended, or ctx does; it
// reports whether they all ended.
func (rl *Relay) WaitWebSockets(ctx context.Context) bool {
	rl.ws.drain()
	done := make(chan struct{})
	go func() { rl.ws.open.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// CloseWebSockets ends every client WebSocket connection now, requests in
// flight included (past the shutdown grace), and returns once their
// handlers have (each waits at most 5 s for its client's close reply).
// After it, no WebSocket request starts: call it before Wait.
func (rl *Relay) CloseWebSockets() {
	rl.DrainWebSockets()
	rl.ws.killAll()
	rl.ws.open.Wait()
}

// OpenWebSockets is how many client WebSocket connections are open.
func (rl *Relay) OpenWebSockets() int { return len(rl.ws.slots) }

// serveWebSocket runs one client WebSocket connection to its end. Each
// response.create message is served as a POST of the complete request
// would be: same session key, stickiness, failover before output, usage
// and events.
func (rl *Relay) serveWebSocket(w http.ResponseWriter, r *http.Request, suffix string) {
	if suffix != "/responses" || cap(rl.ws.slots) == 0 {
		// 426 makes Codex fall back to HTTP at once (404 costs it ~6.5 s
		// of retries).
		msg := "WebSocket is served on /responses only; send this request as an HTTP POST"
		if cap(rl.ws.slots) == 0 {
			msg = "WebSockets are turned off in this proxy (limits.websocket_connections: 0); send the request as an HTTP POST"
		}
		apierror.New(http.StatusUpgradeRequired, apierror.TypeInvalidRequest, msg).WithCode("websocket_not_supported").Write(w)
		return
	}
	if e := checkUpgrade(r); e != nil {
		e.Write(w)
		return
	}
	select {
	case rl.ws.slots <- struct{}{}:
	default:
		e := apierror.New(http.StatusServiceUnavailable, apierror.TypeServer,
			fmt.Sprintf("the proxy has as many WebSocket connections open as it allows (limits.websocket_connections, %d); use HTTP, or retry in a moment", cap(rl.ws.slots))).WithCode("proxy_busy")
		e.RetryAfter = time.Second
		e.Write(w)
		return
	}
	defer func() { <-rl.ws.slots }()
	if !rl.ws.enter() {
		apierror.New(http.StatusServiceUnavailable, apierror.TypeServer, "the proxy is shutting down; retry against its next instance").WithCode("proxy_shutting_down").Write(w)
		return
	}
	defer rl.ws.open.Done()

	opened := rl.o.Now() // the connection's age counts from its upgrade
	limit := rl.o.WebSocket.Message
	w.Header().Set(MaxMessageHeader, strconv.FormatInt(limit, 10))
	// The guard refuses a frame announcing more than the limit at its
	// header; the library's own limit is the backstop for what inflates.
	c, err := websocket.Accept(guardedWriter{ResponseWriter: w, limit: limit}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionNoContextTakeover})
	if err != nil {
		rl.o.Logger.Warn("WebSocket upgrade failed", "path", r.URL.Path, "err", err)
		return
	}
	c.SetReadLimit(limit)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(rl.ws.kill, cancel)
	defer stop()

	cn := &wsConn{
		rl: rl, c: c, ctx: ctx, upgrade: r, opened: opened,
		conv: &conversation{max: rl.o.MaxBodyBytes, budget: rl.o.Bodies},
		up:   &upstreamWS{rl: rl},
	}
	defer cn.conv.close()
	defer cn.up.close()
	code, reason := cn.run(cancel)
	if code == websocket.StatusGoingAway && strings.HasPrefix(reason, "no pong") {
		// A client that answers no ping will not answer a close.
		_ = c.CloseNow()
		return
	}
	_ = c.Close(code, reason)
}

// checkUpgrade refuses, OpenAI-shaped, what the WebSocket library would
// refuse in plain text: a wrong version. A web page's upgrade (any Origin)
// never gets here: the server refuses it before any route, by the one rule
// that covers HTTP and WebSocket alike.
func checkUpgrade(r *http.Request) *apierror.Error {
	if r.Method != http.MethodGet || r.Header.Get("Sec-WebSocket-Version") != "13" || r.Header.Get("Sec-WebSocket-Key") == "" {
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"malformed WebSocket upgrade: send GET with Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key").WithCode("bad_websocket_upgrade")
	}
	return nil
}

// wsConn is one client WebSocket connection.
type wsConn struct {
	rl      *Relay
	c       *websocket.Conn
	ctx     context.Context
	upgrade *http.Request
	opened  time.Time
	conv    *conversation
	up      *upstreamWS
}

// run reads messages and serves them one at a time until the client
// leaves, the connection idles out, ages out or the proxy shuts down. It
// returns how to close.
func (cn *wsConn) run(cancel context.CancelFunc) (websocket.StatusCode, string) {
	lim := cn.rl.o.WebSocket
	msgs := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		defer cancel()
		for {
			typ, data, err := cn.c.Read(cn.ctx)
			if errors.Is(err, errFrameTooBig) {
				// Closed here, before cancel ends the turn in flight, so
				// the client hears 1009 whatever the connection is doing.
				_ = cn.c.Close(websocket.StatusMessageTooBig, fmt.Sprintf("message larger than limits.websocket_message_bytes (%d)", lim.Message))
			}
			if err != nil {
				readErr <- err
				return
			}
			if typ != websocket.MessageText {
				data = nil // answered as an unsupported message
			}
			select {
			case msgs <- data:
			case <-cn.ctx.Done():
				return
			}
		}
	}()
	idle := time.NewTimer(lim.Idle)
	defer idle.Stop()
	ping := time.NewTicker(lim.Ping)
	defer ping.Stop()
	for {
		select {
		case data := <-msgs:
			if cn.ctx.Err() != nil {
				return websocket.StatusGoingAway, "proxy shutting down"
			}
			if cn.rl.o.Now().Sub(cn.opened) >= lim.MaxAge {
				cn.answerError(connectionLimitError(lim.MaxAge))
				return websocket.StatusNormalClosure, "connection limit reached"
			}
			if end := cn.serve(data); end != nil {
				return end.code, end.reason
			}
			idle.Reset(lim.Idle)
			select {
			case <-cn.rl.ws.draining:
				return websocket.StatusGoingAway, "proxy shutting down"
			default:
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(cn.ctx, lim.Ping)
			err := cn.c.Ping(pctx)
			pcancel()
			if err != nil && cn.ctx.Err() == nil {
				return websocket.StatusGoingAway, "no pong within " + lim.Ping.String()
			}
		case <-idle.C:
			return websocket.StatusNormalClosure, fmt.Sprintf("idle for %s (timeouts.websocket_idle)", lim.Idle)
		case <-cn.rl.ws.draining:
			return websocket.StatusGoingAway, "proxy shutting down"
		case err := <-readErr:
			if errors.Is(err, websocket.ErrMessageTooBig) || errors.Is(err, errFrameTooBig) {
				cn.rl.o.Logger.Warn("WebSocket message larger than limits.websocket_message_bytes; connection closed", "path", cn.upgrade.URL.Path, "limit", lim.Message)
			}
			return websocket.StatusNormalClosure, ""
		case <-cn.ctx.Done():
			return websocket.StatusGoingAway, "proxy shutting down"
		}
	}
}

// connectionLimitError is the answer to a request on a connection past its
// lifetime; Codex retries it on a new connection.
func connectionLimitError(age time.Duration) *apierror.Error {
	return reconnectError(fmt.Sprintf("Responses websocket connection limit reached (%s). Create a new websocket connection to continue.", age))
}

// answerError sends an error event the proxy made itself.
func (cn *wsConn) answerError(e *apierror.Error) {
	fw := newFrameWriter(cn.ctx, cn.c, func([]byte) {})
	e.Write(fw)
	_ = fw.end()
}

// wsEnd is how a connection ends after a message: its close code and
// reason.
type wsEnd struct {
	code   websocket.StatusCode
	reason string
}

// serve answers one message. It returns how to end the connection when the
// message ends it: the client's key is no longer valid (a reload removed
// it), or the client must continue on a new connection.
func (cn *wsConn) serve(data []byte) *wsEnd {
	rl := cn.rl
	rl.active.Add(1)
	defer rl.active.Done()
	if check := clientCheckFrom(cn.ctx); check != nil && !check() {
		cn.answerError(apierror.New(http.StatusUnauthorized, apierror.TypeAuthentication,
			"invalid client key: the key this connection was opened with is no longer one of the proxy's client_keys; reconnect with a current key").WithCode("invalid_api_key"))
		return &wsEnd{websocket.StatusPolicyViolation, "client key no longer valid"}
	}
	if data == nil {
		cn.answerError(apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			`binary WebSocket messages are not supported; send {"type":"response.create", ...} as text`).WithCode("unsupported_message_type"))
		return nil
	}
	f, kind, apiErr := cn.conv.read(data)
	if kind == frameProcessed && apiErr == nil {
		return nil
	}
	start := rl.o.Now()
	rec := &event.Decision{
		Time: start, RequestID: newRequestID(), Client: ClientFrom(cn.ctx),
		Path: cn.upgrade.URL.Path, Source: string(session.SourceNone), Transport: "websocket", Stream: true,
	}
	fw := newFrameWriter(cn.ctx, cn.c, cn.conv.observe)
	defer func() {
		if err := fw.end(); err != nil && rec.Error == "" {
			rec.Error = clientGone(err)
		}
		if cn.ctx.Err() != nil && strings.HasPrefix(rec.Error, "client went away") {
			// The connection ended (the client closed it, or shutdown):
			// say so plainly, as for an HTTP client that hung up.
			rec.Error = "client closed the request"
		}
		rec.Duration = rl.o.Now().Sub(start)
		rl.finish(rec)
	}()
	if apiErr != nil {
		rl.fail(fw, rec, apiErr)
		if apiErr.Code != nil && *apiErr.Code == codeReconnect {
			return &wsEnd{websocket.StatusNormalClosure, "continue on a new connection"}
		}
		return nil
	}
	r := frameRequest(cn.ctx, cn.upgrade)
	req, err := session.Parse(r.Header, f.body)
	if apiErr := refusedModel(err, req, rec); apiErr != nil {
		cn.conv.drop()
		rl.fail(fw, rec, apiErr)
		return nil
	}
	if err != nil {
		cn.conv.drop()
		rl.fail(fw, rec, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			"the request is not a valid JSON object; send the Responses API request as JSON").WithCode("invalid_json"))
		return nil
	}
	rec.Session, rec.Source, rec.Model = req.Key.Short(), string(req.Key.Source), req.Model
	if f.warmup {
		cn.warmup(fw, rec, req.Model)
		return nil
	}
	body := f.body
	f.body = nil
	wr := &wsRequest{frame: f, up: cn.up}
	ctx := context.WithValue(cn.ctx, wsFrameKey{}, wr)
	rl.relay(fw, r.WithContext(ctx), "/responses", body, req, rec, func() {})
	if wr.overWS && strings.HasPrefix(rec.Target, "http") {
		// The record shows the upstream leg as it went: ws:// or wss://.
		rec.Target = "ws" + strings.TrimPrefix(rec.Target, "http")
	}
	return nil
}

// warmup answers a warmup (generate:false) itself: it produces nothing,
// so no account is needed, and its input becomes the conversation's start
// for the request that continues it.
func (cn *wsConn) warmup(fw *frameWriter, rec *event.Decision, model string) {
	id := "resp_pxy" + randomHex(12)
	now := cn.rl.o.Now().Unix()
	res := func(status, usage string) string {
		return fmt.Sprintf(`{"id":%q,"object":"response","created_at":%d,"status":%q,"error":null,"model":%s,"output":[],"usage":%s}`,
			id, now, status, quoteString(model), usage)
	}
	fw.WriteHeader(http.StatusOK)
	fw.send([]byte(`{"type":"response.created","sequence_number":0,"response":` + res("in_progress", "null") + `}`))
	fw.send([]byte(`{"type":"response.completed","sequence_number":1,"response":` + res("completed",
		`{"input_tokens":0,"input_tokens_details":{"cached_tokens":0},"output_tokens":0,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":0}`) + `}`))
	cn.conv.warmed(id)
	rec.Status, rec.Reason, rec.Detail = http.StatusOK, "prewarm", "a warmup (generate:false) answered by the proxy; no account needed"
}

// frameRequest is the POST a message stands for: the upgrade's headers
// (Codex's session-id, x-codex-*, originator ...) less the WebSocket's own.
func frameRequest(ctx context.Context, upgrade *http.Request) *http.Request {
	r := upgrade.Clone(ctx)
	r.Method = http.MethodPost
	for k := range r.Header {
		if strings.HasPrefix(k, "Sec-Websocket-") {
			delete(r.Header, k)
		}
	}
	r.Header.Del("Upgrade")
	r.Header.Del("Connection")
	r.Header.Del("Origin")
	if strings.HasPrefix(r.Header.Get("OpenAI-Beta"), "responses_websockets") {
		r.Header.Del("OpenAI-Beta")
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	r.Body = http.NoBody
	return r
}

// wsRequest is what the relay's send needs to route a message's attempt
// over the client connection's upstream WebSocket.
type wsRequest struct {
	frame  wsFrame
	up     *upstreamWS
	overWS bool // the last attempt went over the upstream WebSocket
}

type wsFrameKey struct{}

// wsRequestFrom is the message an attempt serves; nil for a POST.
func wsRequestFrom(ctx context.Context) *wsRequest {
	w, _ := ctx.Value(wsFrameKey{}).(*wsRequest)
	return w
}

type clientCheckKey struct{}

// WithClientCheck records in ctx how to tell whether the client's
// credential is still valid, so a WebSocket connection opened with a key
// a reload has since removed is refused at its next request.
func WithClientCheck(ctx context.Context, valid func() bool) context.Context {
	return context.WithValue(ctx, clientCheckKey{}, valid)
}

func clientCheckFrom(ctx context.Context) func() bool {
	f, _ := ctx.Value(clientCheckKey{}).(func() bool)
	return f
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
