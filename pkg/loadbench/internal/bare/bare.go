// Package bare is the floor the load benchmarks measure the proxy against:
// a bare httputil.ReverseProxy that reads the whole body first. It is shared
// by the in-process benchmarks and the floor command
// (pkg/loadbench/internal/floor), so both runs measure the same code.
package bare

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// Transport is what the floor uses to reach the upstream: the settings of
// relay.NewTransport, restated so the benchmarks do not depend on the
// relay's internals.
func Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}
}

// Handler is httputil.ReverseProxy with Rewrite to upstream over tr, which
// reads the whole body first (as a pooling proxy must, to pick an account
// and to replay on failover), sets the upstream's key and flushes every
// write, as a streaming proxy must.
func Handler(upstream *url.URL, key string, tr http.RoundTripper) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Header.Set("Authorization", "Bearer "+key)
		},
		Transport:     tr,
		FlushInterval: -1,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading the request body failed", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	})
}
