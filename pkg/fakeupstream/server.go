package fakeupstream

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// defaultModels are what GET /models lists unless WithModels says otherwise.
var defaultModels = []string{"gpt-5", "gpt-5-codex", "gpt-5.5"}

// Server is a fake upstream account. It is an http.Handler, so it can be
// mounted in httptest.NewServer or run on its own listener with Start.
type Server struct {
	name          string
	auth          authConfig
	reply         string
	now           func() time.Time
	models        []string
	primaryUsed   float64
	secondaryUsed float64
	idPrefix      string          // random per server, so ids of two accounts never collide
	modelsStatus  int             // set by FailModels: what GET /models answers instead of a list
	windowStart   time.Time       // start of the simulated rate-limit windows
	windowsAge    time.Duration   // how long before New the windows started
	key           []byte          // signs the blobs this account mints: random, or WithOrganization's (items.go)
	foreign       ForeignItemRule // WithForeignItems: how an item this account cannot read is refused
	// bareCompletion (WithBareCompletion): response.completed without output.
	bareCompletion bool

	turns turnStates // WithTurnState: the turn states issued (orderings.go)
	ws    wsState    // WithWebSocket: the transport's settings and open connections (websocket.go)
	tool  *toolCall  // WithToolCall: the function call a turn answers with (toolcall.go)
	chat  chatConfig // WithChatOnly, WithThinking, WithParallelToolCalls (chat.go)

	mu       sync.Mutex
	requests []Request
	faults   []Fault
	cache    promptCache
	seq      int  // counter behind response, message and request ids
	refusals int  // requests refused for an item this account cannot read (refuse.go)
	closed   bool // once set, ServeHTTP refuses new requests and the WaitGroup only shrinks
	inflight sync.WaitGroup

	closing   chan struct{} // closed by Close: wakes every hanging handler
	hanging   func()        // test hook: called as a handler starts to block on Fault.Hang
	closeOnce sync.Once

	httpSrv  *http.Server
	listener net.Listener
	served   chan struct{} // closed when the Serve goroutine has returned
}

// Request is a copy of one request the server received, for assertions such as
// "the client key never reached the upstream". Body is the decoded body: a
// gzip request body is stored decompressed, while Header still shows the
// Content-Encoding that was sent.
//
// A WebSocket frame is recorded as a Request of its own (Method "WEBSOCKET",
// WebSocket true), with the path, query and headers of the upgrade request
// that opened its connection and the frame's bytes as Body, so assertions
// over Requests hold whichever transport the client chose.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte

	// WebSocket is true for a frame received on a WebSocket connection.
	WebSocket bool
	// PreviousResponseID is the frame's previous_response_id, "" if none.
	PreviousResponseID string
	// Incremental is true when PreviousResponseID named the last response
	// completed on the frame's connection, so its input held only new items.
	Incremental bool
}

// New returns a fake upstream account named name. The name appears in the
// default reply and in ids, never in anything a client must parse.
func New(name string, opts ...Option) *Server {
	s := &Server{
		name:          name,
		reply:         fmt.Sprintf("Hello from %s.", name),
		now:           time.Now,
		models:        defaultModels,
		primaryUsed:   10,
		secondaryUsed: 5,
		idPrefix:      randomHex(4),
		key:           []byte(randomHex(32)),
		cache:         promptCache{},
		closing:       make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.windowStart = s.now().Add(-s.windowsAge)
	return s
}

// Name returns the account name given to New.
func (s *Server) Name() string { return s.name }

// ServeHTTP answers one request: it records it, checks credentials, applies the
// next scripted Fault, then routes on the path suffix so that any base path
// ("/v1", "/backend-api/codex", ...) works.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, apiError{Message: "fake upstream is closed", Type: "server_error"})
		return
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	body, bodyErr := readBody(r)
	s.record(r, body)

	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		if s.chat.only {
			writeChatNotFound(w) // chat.go: no Responses route to upgrade
			return
		}
		s.serveUpgrade(w, r) // websocket.go
		return
	}

	if s.auth.mode == authChatGPT && isBackendCall(r.URL.Path) {
		s.serveBackend(w, r) // backend.go
		return
	}
	route := s.routeOf(r.URL.Path)
	if route == routeNone && s.chat.only {
		writeChatNotFound(w)
		return
	}
	if route == routeNone {
		writeError(w, http.StatusNotFound, apiError{
			Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path),
			Type:    "invalid_request_error",
		})
		return
	}
	if want := route.method(); r.Method != want {
		w.Header().Set("Allow", want)
		writeError(w, http.StatusMethodNotAllowed, apiError{
			Message: fmt.Sprintf("Method %s not allowed; use %s.", r.Method, want),
			Type:    "invalid_request_error",
		})
		return
	}
	if e, ok := s.auth.check(r.Header); !ok {
		writeError(w, http.StatusUnauthorized, e)
		return
	}

	if status := s.modelsFailure(); route == routeModels && status != 0 {
		// Before the scripted faults: a failing model list must not use up
		// a Fault meant for /responses.
		writeError(w, status, defaultStatusError(status))
		return
	}

	// A real upstream checks quota and health before it looks at the body, so
	// the fault comes before body validation.
	f := s.nextFault()
	if !f.waitBeforeHeaders(r.Context(), s.closing, s.hanging) {
		return
	}
	if f.Status != 0 {
		s.writeRateLimitHeaders(w.Header())
		status, b := f.statusReply()
		s.deliverJSON(w, r, status, b, f)
		return
	}
	if bodyErr != nil {
		writeError(w, bodyErr.status, bodyErr.apiError)
		return
	}

	switch route {
	case routeModels:
		s.serveModels(w, r, f)
	case routeCompact:
		s.serveCompact(w, r, body, f)
	case routeResponses:
		s.serveResponses(w, r, body, f)
	case routeChat:
		s.serveChat(w, r, body, f) // chat.go
	}
}

// route is what a request path asks for, judged by its suffix.
type route int

const (
	routeNone route = iota
	routeResponses
	routeCompact
	routeModels
	routeChat // POST .../chat/completions, served only WithChatOnly
)

// routeOf is the route of path on this server: a chat-only server has no
// Responses routes, and any other has no Chat Completions route (the ChatGPT
// backend has none; the OpenAI API has one, but this fake stands for its
// Responses API).
func (s *Server) routeOf(path string) route {
	r := routeOf(path)
	switch {
	case s.chat.only && (r == routeResponses || r == routeCompact):
		return routeNone
	case !s.chat.only && r == routeChat:
		return routeNone
	}
	return r
}

func routeOf(path string) route {
	path = strings.TrimSuffix(path, "/")
	switch {
	case strings.HasSuffix(path, "/responses/compact"):
		return routeCompact
	case strings.HasSuffix(path, "/responses"):
		return routeResponses
	case strings.HasSuffix(path, "/models"):
		return routeModels
	case strings.HasSuffix(path, "/chat/completions"):
		return routeChat
	}
	return routeNone
}

func (r route) method() string {
	if r == routeModels {
		return http.MethodGet
	}
	return http.MethodPost
}

// record keeps a deep copy of the request so later assertions see exactly what
// arrived, even if the caller reuses its buffers.
func (s *Server) record(r *http.Request, body []byte) {
	req := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     append([]byte(nil), body...),
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
}

// Requests returns copies of every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		c := r // copies every plain field, new ones included
		c.Header = r.Header.Clone()
		c.Body = append([]byte(nil), r.Body...)
		out[i] = c
	}
	return out
}

// nextID returns a fresh id such as "resp_1a2b3c4d000007".
func (s *Server) nextID(prefix string) string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("%s_%s%06d", prefix, s.idPrefix, n)
}

// Start listens on addr ("" means 127.0.0.1:0, a free loopback port) and serves
// until Close.
func (s *Server) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("fakeupstream: server is closed")
	}
	if s.httpSrv != nil {
		return errors.New("fakeupstream: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fakeupstream: listen %s: %w", addr, err)
	}
	s.listener = ln
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}(s.httpSrv, s.served)
	return nil
}

// URL returns the base URL of a started server, "http://127.0.0.1:port", or ""
// before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// Close wakes every hanging handler, stops the listener started by Start,
// drops its connections (WebSocket ones too), and waits until every handler
// has returned. It does not drain in-flight streams gracefully: a test that
// closes an upstream means it to be gone, and http.Server.Shutdown would wait
// seconds for connections a client transport dialled but never used. It is
// safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	s.closed = true
	srv, served := s.httpSrv, s.served
	s.mu.Unlock()
	// Hijacked connections are out of http.Server's reach: drop them here so
	// their handlers return and inflight drains.
	s.CloseWebSockets()

	var err error
	if srv != nil {
		err = srv.Close()
		<-served
	}
	s.inflight.Wait()
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
