package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/config"
)

// LiveTimeout bounds a question to the running server: it is on loopback,
// so anything slower means it is not answering.
const LiveTimeout = 5 * time.Second

// ErrNotRunning means no server answered at the address.
var ErrNotRunning = errors.New("server not running")

// LiveClient talks to a running `proxy serve` over its admin endpoints.
type LiveClient struct {
	Base string // http://host:port, no trailing slash
	key  string // $PROXY_API_KEY, sent as the bearer when client keys are on
	http *http.Client
}

// NewLiveClient is the client for --addr, or for the config's listen
// address when --addr is empty.
func NewLiveClient(ios *IOStreams, addr string, cfg *config.Config) *LiveClient {
	if addr == "" {
		listen := config.DefaultListen
		if cfg != nil {
			listen = cfg.Listen
		}
		addr = Dialable(listen)
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return &LiveClient{Base: strings.TrimRight(addr, "/"), key: ios.Getenv("PROXY_API_KEY"), http: &http.Client{Timeout: LiveTimeout}}
}

// Dialable turns a listen address into one to connect to: a wildcard host
// is reached on loopback.
func Dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Do sends a request to path and decodes a 2xx JSON answer into out. An
// error answer comes back with the server's own message.
func (c *LiveClient) Do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, nil)
	if err != nil {
		return err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s", ErrNotRunning, c.Base)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("reading %s%s: %w", c.Base, path, err)
	}
	if resp.StatusCode/100 != 2 {
		msg, shaped := errorMessage(body)
		return &ServerError{Status: resp.StatusCode, Message: msg, URL: c.Base + path, Proxy: shaped}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding %s%s: %w", c.Base, path, err)
	}
	return nil
}

// ServerError is an error answer of the running server.
type ServerError struct {
	Status  int
	Message string
	URL     string
	// Proxy is true when the answer is an OpenAI-shaped error, as this
	// proxy makes; a bare 404 suggests something else listens there.
	Proxy bool
}

// Error says what the server answered, with a hint for the usual causes.
func (e *ServerError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return fmt.Sprintf("%s: 401 %s (set PROXY_API_KEY to one of the config's client_keys)", e.URL, e.Message)
	case http.StatusNotFound:
		if e.Proxy {
			break
		}
		if e.Message == "" {
			e.Message = "not found"
		}
		return fmt.Sprintf("%s: 404 %s (is this a proxy of this version?)", e.URL, e.Message)
	}
	return fmt.Sprintf("%s: %d %s", e.URL, e.Status, e.Message)
}

// errorMessage is the message of an OpenAI-shaped error body, else the
// body; shaped reports which.
func errorMessage(body []byte) (msg string, shaped bool) {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message, true
	}
	return strings.TrimSpace(string(body)), false
}
