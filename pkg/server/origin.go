package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/bound"
)

// A local proxy without client keys admits whoever reaches its port, and a
// web page the user visits reaches it too: a "simple" cross-origin POST
// (Content-Type text/plain) needs no preflight, and a DNS-rebinding page is
// same-origin to the browser. Both are told apart from the user's own
// programs by what browsers, and only browsers, send: a Host naming the
// attacker's domain, an Origin, a Sec-Fetch-Site other than none. CLI
// clients, the SDKs and Codex send none of these.

// maxShown bounds how much of a client's Host or Origin a refusal or its
// log line repeats: both are the client's own words.
const maxShown = 100

// HostRule is the set of names the proxy answers to in a request's Host.
// Ports are never compared: a rebinding page must use the proxy's own port
// anyway, so a port says nothing about who sent the request.
type HostRule struct {
	exact    map[string]bool // lower case, no trailing dot
	suffixes []string        // ".example.com" for the entry *.example.com
}

// NewHostRule returns the rule admitting, besides every IP address and
// localhost, the host of listen (host:port, as configured) and the names in
// allowed (the config's allowed_hosts: a name, or *.name for any name under
// it; validated by the config package).
func NewHostRule(listen string, allowed []string) *HostRule {
	h := &HostRule{exact: map[string]bool{"localhost": true}}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		h.exact[normalHost(host)] = true
	}
	for _, a := range allowed {
		a = normalHost(a)
		if rest, ok := strings.CutPrefix(a, "*."); ok {
			h.suffixes = append(h.suffixes, "."+rest)
		} else if a != "" {
			h.exact[a] = true
		}
	}
	return h
}

// Admits reports whether a request with this Host header is the proxy's to
// serve. An IP address always is: DNS rebinding needs a name, and a page
// whose origin is the address itself would have to be served by the proxy,
// which serves none. An empty Host (HTTP/1.0) comes from no browser.
func (h *HostRule) Admits(hostHeader string) bool {
	host := hostOnly(hostHeader)
	if host == "" {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = normalHost(host)
	if h.exact[host] {
		return true
	}
	for _, s := range h.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// hostOnly strips the port from a Host header, and the brackets from an
// IPv6 address.
func hostOnly(hostHeader string) string {
	if host, _, err := net.SplitHostPort(hostHeader); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostHeader, "["), "]")
}

// normalHost is a name as the rule compares it: lower case, without the
// root's trailing dot.
func normalHost(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// fromWebPage returns what shows that r was sent by a web page ("" when
// nothing does): any Origin, "null" included (sandboxed frames, file://
// pages), or a Sec-Fetch-Site of cross-site or same-site. Same-site is
// another origin of the same site, such as another port of localhost: a
// dev server's page is no more the user's program than any other. none (the
// user typed the address) and same-origin (a page of the proxy's own
// origin, which passed the Host check and which the proxy never serves)
// are left alone, as is the header's absence. Sec-Fetch-Mode says nothing:
// Node's fetch, which the Node SDK uses, sends Sec-Fetch-Mode: cors.
func fromWebPage(r *http.Request) string {
	if origin, ok := r.Header["Origin"]; ok {
		return "Origin: " + strings.Join(origin, ", ")
	}
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "cross-site", "same-site":
		return "Sec-Fetch-Site: " + site
	}
	return ""
}

// requireOwnClient refuses, before anything else reads the request, one
// whose Host the proxy does not answer to or that a web page sent: either
// would let a page the user visits spend the accounts or clear the
// sessions. HTTP and WebSocket, API and admin alike.
func requireOwnClient(hosts *HostRule, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.Admits(r.Host) {
			refuseEarly(w, r, logger, "Host: "+r.Host, apierror.New(http.StatusForbidden, apierror.TypePermission,
				"request refused: Host "+shown(r.Host)+" is not a name this proxy answers to, so it may come from a web page "+
					"using DNS rebinding. If you reach the proxy by this name, add "+shown(hostOnly(r.Host))+
					" to allowed_hosts in the config and restart it").WithCode("host_not_allowed"))
			return
		}
		if why := fromWebPage(r); why != "" {
			refuseEarly(w, r, logger, why, apierror.New(http.StatusForbidden, apierror.TypePermission,
				"request from a web page refused ("+shown(why)+"): this proxy serves programs such as Codex, "+
					"the OpenAI SDKs and curl, which send no Origin; call it from a program or from a web tool's "+
					"server side, not from a browser page").WithCode("cross_origin_refused"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseEarly logs the refusal at WARN (what gave the page away, the
// client's address, the route) and writes e.
func refuseEarly(w http.ResponseWriter, r *http.Request, logger *slog.Logger, why string, e *apierror.Error) {
	if logger != nil {
		logger.Warn("request from a web page refused", "why", bound.Cut(why, maxShown), "client", r.RemoteAddr,
			"method", r.Method, "path", bound.Cut(r.URL.Path, maxShown))
	}
	closeUnread(w, r)
	e.Write(w)
}

// shown quotes a client's string for a message, cut to maxShown bytes.
func shown(s string) string { return strconv.Quote(bound.Cut(s, maxShown)) }
