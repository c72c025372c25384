// Package fakeproxy runs outbound proxies on loopback for tests: an HTTP
// forward proxy (absolute-URI requests, and CONNECT tunnels) and a SOCKS5
// server (CONNECT only, without authentication or with a user name and
// password). Each records what it carried, so a test can tell which of the
// proxy's requests went through it and which did not.
package fakeproxy

import (
	"bufio"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// dialTimeout bounds the proxy's own dial to a target: targets are on
// loopback, so a slow dial is a broken test.
const dialTimeout = 5 * time.Second

// Server is one running proxy.
type Server struct {
	scheme     string
	user, pass string
	ln         net.Listener
	http       *http.Server    // the HTTP proxy only
	transport  *http.Transport // the HTTP proxy's, to its targets

	mu      sync.Mutex
	seen    []string
	refused int
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// StartHTTP starts an HTTP forward proxy on a free loopback port. With a
// user, it answers 407 to a request without that user and password in
// Proxy-Authorization.
func StartHTTP(user, password string) (*Server, error) {
	s, err := listen("http", user, password)
	if err != nil {
		return nil, err
	}
	s.transport = &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: dialTimeout}).DialContext}
	forward := &httputil.ReverseProxy{
		// The request came in absolute form: its URL is the target.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.URL = pr.In.URL; pr.Out.Host = pr.In.Host },
		Transport: s.transport,
		// Flush every write: SSE streams must pass event by event.
		FlushInterval: -1,
	}
	s.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.authorized(r.Header.Get("Proxy-Authorization")) {
				w.Header().Set("Proxy-Authenticate", `Basic realm="fakeproxy"`)
				http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
				return
			}
			if r.Method == http.MethodConnect {
				s.record("CONNECT " + r.Host)
				s.tunnel(w, r.Host)
				return
			}
			if !r.URL.IsAbs() {
				http.Error(w, "a proxy serves absolute URIs", http.StatusBadRequest)
				return
			}
			s.record(r.Method + " " + r.URL.String())
			forward.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.http.Serve(s.ln) }()
	return s, nil
}

// StartSOCKS5 starts a SOCKS5 server on a free loopback port. With a user
// it offers only user name/password authentication (RFC 1929); without,
// only none.
func StartSOCKS5(user, password string) (*Server, error) {
	s, err := listen("socks5", user, password)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil || !s.track(c) {
				return
			}
			go func() {
				defer s.untrack(c)
				s.serveSOCKS(c)
			}()
		}
	}()
	return s, nil
}

func listen(scheme, user, password string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeproxy: %w", err)
	}
	return &Server{scheme: scheme, user: user, pass: password, ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

// URL is the proxy's URL as an account's proxy_url, with the user and
// password when it has them.
func (s *Server) URL() string {
	u := url.URL{Scheme: s.scheme, Host: s.ln.Addr().String()}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// Addr is the proxy's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Seen is what the proxy carried, in order: "METHOD absolute-URL" for
// each request an HTTP proxy forwarded, "CONNECT host:port" for each
// tunnel (SOCKS5, or HTTP CONNECT).
func (s *Server) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// Refused counts the clients turned away for wrong or missing credentials.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Close stops the proxy, ends what it is carrying and waits for it.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	var err error
	if s.http != nil {
		err = s.http.Close()
		s.transport.CloseIdleConnections()
	}
	// The listener is closed here, not only by the HTTP server: one whose
	// Serve goroutine has not run yet does not know it, so the kernel
	// would go on completing handshakes that end in a reset once Serve
	// starts, where a test of a proxy that is down wants a refusal.
	if lerr := s.ln.Close(); s.http == nil {
		err = lerr
	}
	s.wg.Wait()
	return err
}

func (s *Server) record(what string) {
	s.mu.Lock()
	s.seen = append(s.seen, what)
	s.mu.Unlock()
}

func (s *Server) refuse() {
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
}

// track registers c so Close ends it and waits for its untrack; false (c
// closed) once closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	_ = c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// authorized checks a Proxy-Authorization header against the user.
func (s *Server) authorized(h string) bool {
	if s.user == "" {
		return true
	}
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		s.refuse()
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	user, pass, _ := strings.Cut(string(raw), ":")
	if err != nil || !s.matches(user, pass) {
		s.refuse()
		return false
	}
	return true
}

func (s *Server) matches(user, pass string) bool {
	return subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.pass)) == 1
}

// tunnel answers an HTTP CONNECT and joins the client to target.
func (s *Server) tunnel(w http.ResponseWriter, target string) {
	dst, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
	c, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = dst.Close()
		return
	}
	if !s.track(c) {
		_ = dst.Close()
		return
	}
	defer s.untrack(c)
	pipe(c, io.MultiReader(buf, c), dst)
}

// SOCKS5 protocol values (RFC 1928, RFC 1929).
const (
	socksVersion    = 5
	methodNone      = 0x00
	methodPassword  = 0x02
	methodNoneFound = 0xff
	cmdConnect      = 0x01
	atypIPv4        = 0x01
	atypDomain      = 0x03
	atypIPv6        = 0x04
	replyOK         = 0x00
	replyFailure    = 0x01
	replyRefused    = 0x05
	replyNoCommand  = 0x07
)

func (s *Server) serveSOCKS(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	target, err := s.handshake(r, c)
	if err != nil {
		return
	}
	dst, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		_, _ = c.Write([]byte{socksVersion, replyRefused, 0, atypIPv4, 0, 0, 0, 0, 0, 0})
		return
	}
	if _, err := c.Write([]byte{socksVersion, replyOK, 0, atypIPv4, 0, 0, 0, 0, 0, 0}); err != nil {
		_ = dst.Close()
		return
	}
	s.record("CONNECT " + target)
	_ = c.SetDeadline(time.Time{})
	pipe(c, r, dst)
}

// handshake reads the greeting, authentication and request, answering
// each, and returns the target host:port of a CONNECT.
func (s *Server) handshake(r *bufio.Reader, w io.Writer) (string, error) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(r, head); err != nil || head[0] != socksVersion {
		return "", errors.New("not socks5")
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return "", err
	}
	want := byte(methodNone)
	if s.user != "" {
		want = methodPassword
	}
	if !strings.ContainsRune(string(methods), rune(want)) {
		s.refuse()
		_, _ = w.Write([]byte{socksVersion, methodNoneFound})
		return "", errors.New("no acceptable method")
	}
	if _, err := w.Write([]byte{socksVersion, want}); err != nil {
		return "", err
	}
	if want == methodPassword {
		user, pass, err := readUserPass(r)
		if err != nil {
			return "", err
		}
		if !s.matches(user, pass) {
			s.refuse()
			_, _ = w.Write([]byte{1, 1})
			return "", errors.New("bad credentials")
		}
		if _, err := w.Write([]byte{1, 0}); err != nil {
			return "", err
		}
	}
	req := make([]byte, 4)
	if _, err := io.ReadFull(r, req); err != nil || req[0] != socksVersion {
		return "", errors.New("bad request")
	}
	var host string
	switch req[3] {
	case atypIPv4, atypIPv6:
		ip := make([]byte, 4)
		if req[3] == atypIPv6 {
			ip = make([]byte, 16)
		}
		if _, err := io.ReadFull(r, ip); err != nil {
			return "", err
		}
		host = net.IP(ip).String()
	case atypDomain:
		n, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(r, name); err != nil {
			return "", err
		}
		host = string(name)
	default:
		_, _ = w.Write([]byte{socksVersion, replyFailure, 0, atypIPv4, 0, 0, 0, 0, 0, 0})
		return "", errors.New("bad address type")
	}
	port := make([]byte, 2)
	if _, err := io.ReadFull(r, port); err != nil {
		return "", err
	}
	if req[1] != cmdConnect {
		_, _ = w.Write([]byte{socksVersion, replyNoCommand, 0, atypIPv4, 0, 0, 0, 0, 0, 0})
		return "", errors.New("only CONNECT")
	}
	return net.JoinHostPort(host, fmt.Sprint(int(port[0])<<8|int(port[1]))), nil
}

// readUserPass reads an RFC 1929 user name/password request.
func readUserPass(r *bufio.Reader) (user, pass string, err error) {
	ver, err := r.ReadByte()
	if err != nil || ver != 1 {
		return "", "", errors.New("bad auth version")
	}
	read := func() (string, error) {
		n, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	if user, err = read(); err != nil {
		return "", "", err
	}
	pass, err = read()
	return user, pass, err
}

// pipe copies both ways between the client c (read through from) and dst
// until either side ends.
func pipe(c net.Conn, from io.Reader, dst net.Conn) {
	defer dst.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(dst, from); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, dst); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = dst.Close()
	<-done
}
