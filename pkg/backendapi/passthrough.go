package backendapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/identity"
)

// newPassthrough passes a call under Prefix to the same path under
// o.Upstream: method, query, headers and body as the client sent them
// (its own Authorization and ChatGPT-Account-Id included), the answer
// streamed back as it comes. The proxy adds nothing: no account's token,
// no forwarding headers. A caller admitted by a client key is refused, as
// that key must never reach OpenAI and the backend would refuse the call
// without a login anyway.
func newPassthrough(o Options) http.Handler {
	transport := o.Transport
	if transport == nil {
		transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout}).DialContext,
			TLSHandshakeTimeout:   o.ConnectTimeout,
			ResponseHeaderTimeout: o.ResponseHeaderTimeout,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	def, _ := url.Parse(config.DefaultChatGPTBackend) // a constant that parses
	upstream := *def
	if o.Upstream != nil {
		upstream = *o.Upstream
	}
	upstream.Path = strings.TrimSuffix(upstream.Path, "/")
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = upstream.Scheme, upstream.Host
			pr.Out.URL.Path = upstream.Path + "/" + strings.TrimPrefix(pr.In.URL.Path, Prefix)
			pr.Out.URL.RawPath = ""
			pr.Out.Host = upstream.Host
		},
		Transport:     transport,
		FlushInterval: -1, // MCP answers as an event stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client left; nobody to answer
			}
			o.Logger.Warn("the ChatGPT backend did not answer", "path", r.URL.Path, "backend", upstream.String(), "err", err)
			apierror.New(http.StatusBadGateway, apierror.TypeUpstream,
				fmt.Sprintf("the ChatGPT backend at %s did not answer (%v); Codex's plugins, account checks and tasks go there through the proxy: check the proxy's network, or chatgpt_backend.url in its config", upstream.String(), err)).
				WithCode("backend_unreachable").Write(w)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if identity.From(r.Context()).KeyHolder() {
			apierror.New(http.StatusForbidden, apierror.TypePermission,
				"the proxy passes the ChatGPT backend's calls on only with the caller's own ChatGPT login, and this request was admitted by a client key, which is never sent on; sign Codex in with `codex login`, or leave chatgpt_base_url out of its config").
				WithCode("login_required").Write(w)
			return
		}
		if r.ContentLength > o.MaxBodyBytes {
			apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest,
				fmt.Sprintf("request body is larger than the proxy's limit of %d bytes (max_body_bytes)", o.MaxBodyBytes)).
				WithCode("request_too_large").Write(w)
			return
		}
		if r.Body != nil && o.MaxBodyBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		}
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(rw, r)
		o.Logger.Debug("chatgpt backend", "method", r.Method, "path", r.URL.Path, "status", rw.status, "duration", time.Since(start))
	})
}

// statusWriter remembers the status written, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the flusher beneath.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
