package relay

import (
	"net/http"
	"strings"
)

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 section 7.6.1); a proxy never forwards them.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// clientOnly are request headers that belong to the client's side of the
// proxy: its credential (never forwarded), framing the proxy redoes, and
// account selectors the proxy sets itself.
var clientOnly = []string{
	"Authorization", "X-Api-Key", "Cookie", "Host", "Content-Length",
	"Content-Encoding", "Accept-Encoding", "Chatgpt-Account-Id",
	"Openai-Organization", "Openai-Project", "Forwarded", "X-Forwarded-For",
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
}

// upstreamOnly are response headers not passed back to the client.
var upstreamOnly = []string{"Content-Length", "Set-Cookie", "Alt-Svc"}

// outgoingHeader is the header set sent upstream: the client's headers
// (Codex's session-id, x-codex-*, originator, user-agent, version,
// openai-beta ...) less hop-by-hop and client-only ones.
func outgoingHeader(in http.Header) http.Header {
	out := in.Clone()
	removeHopByHop(out)
	for _, k := range clientOnly {
		out.Del(k)
	}
	return out
}

// copyResponseHeader copies upstream response headers (rate-limit windows,
// x-request-id, openai-model, x-codex-turn-state) to the client, each
// value through red: an upstream may echo the credential it was sent.
func copyResponseHeader(dst, src http.Header, red Redactor) {
	for k, vs := range src {
		out := append(dst[k][:0:0], vs...)
		for i, v := range out {
			out[i] = red.String(v)
		}
		dst[k] = out
	}
	removeHopByHop(dst)
	for _, k := range upstreamOnly {
		dst.Del(k)
	}
}

func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
}

// isWebSocket reports a WebSocket upgrade request.
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}
