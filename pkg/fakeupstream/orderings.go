package fakeupstream

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// This file holds the faults of the orderings real upstreams fail in (a
// failure after the opening events, a top-level error event, a cut after
// output, a 403 from a gateway) and the turn-state routing token, so tests
// of the relay and end-to-end tests script them by name.

// OverloadedAfterOpening is a 200 stream that sends response.created and
// response.in_progress, then response.failed with server_is_overloaded: the
// ordering real upstreams report overload in.
func OverloadedAfterOpening() Fault {
	return Fault{FirstEventFailed: true, FailAfterOpening: true, FailCode: "server_is_overloaded"}
}

// ErrorEventAfterOpening is a 200 stream that sends response.created and
// response.in_progress, then a flat top-level error event with code and
// message ({"type":"error","code":...,"message":...,"param":null}). Set
// FailEvent to FailNestedErrorEvent on the result for the nested shape.
func ErrorEventAfterOpening(code, message string) Fault {
	return Fault{FirstEventFailed: true, FailAfterOpening: true, FailEvent: FailErrorEvent, FailCode: code, FailMessage: message}
}

// ErrorEventFirst is a 200 stream whose first and only event is a flat
// top-level error event with code and message.
func ErrorEventFirst(code, message string) Fault {
	return Fault{FirstEventFailed: true, FailEvent: FailErrorEvent, FailCode: code, FailMessage: message}
}

// CutAfterDeltas is a 200 stream that sends its opening events and n
// output_text deltas, then closes the connection without
// response.completed: output already reached the client, so the relay can
// no longer fail over. Whatever comes before the message's text (a
// reasoning item, when the request asks for one) is sent whole. n larger
// than the reply's word count sends every event but response.completed.
func CutAfterDeltas(n int) Fault {
	return Fault{CutBeforeTextDelta: max(n, 0) + 1}
}

// QuotaInStream is a 200 stream that sends its opening events, then a nested
// error event saying the plan's usage limit is reached (type
// usage_limit_reached, code null, plan_type, resets_at), as the ChatGPT
// backend may report a limit once the stream has started. On a JSON reply
// it is a 429 with the same error.
func QuotaInStream(resetsAt time.Time) Fault {
	return Fault{
		FirstEventFailed: true,
		FailAfterOpening: true,
		FailEvent:        FailNestedErrorEvent,
		FailType:         "usage_limit_reached",
		FailMessage:      "The usage limit has been reached",
		FailExtra:        map[string]any{"plan_type": "plus", "resets_at": resetsAt.Unix()},
	}
}

// ForbiddenHTML is a 403 whose body is an HTML page, as a gateway or a
// firewall in front of the upstream refuses: it says nothing about the
// credential.
func ForbiddenHTML() Fault {
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Server", "nginx")
	return Fault{
		Status: http.StatusForbidden,
		Body:   "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
		Header: h,
	}
}

// ForbiddenInvalidKey is a 403 whose OpenAI-shaped body names the
// credential (invalid_api_key): the key itself is refused.
func ForbiddenInvalidKey() Fault {
	return Fault{Status: http.StatusForbidden, Body: string(errorBody(apiError{
		Message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
		Type:    "invalid_request_error",
		Code:    "invalid_api_key",
	}))}
}

// ForbiddenRegion is the 403 the API answers from a country it does not
// serve: a JSON error that does not name the credential.
func ForbiddenRegion() Fault {
	return Fault{Status: http.StatusForbidden, Body: string(errorBody(apiError{
		Message: "Country, region, or territory not supported",
		Type:    "request_forbidden",
		Code:    "unsupported_country_region_territory",
	}))}
}

// Repeat is n copies of f, to script "fail the next n requests this way":
// s.Script(Repeat(3, OverloadedAfterOpening())...).
func Repeat(n int, f Fault) []Fault {
	out := make([]Fault, max(n, 0))
	for i := range out {
		out[i] = f
	}
	return out
}

// turnStateHeader is the routing token the upstream issues when a turn
// starts and Codex echoes on every request of that turn.
const turnStateHeader = "X-Codex-Turn-State"

// turnStates is what a server with WithTurnState issued.
type turnStates struct {
	mu      sync.Mutex
	enabled bool
	n       int
	issued  map[string]bool
}

// WithTurnState makes every 200 answer of POST /responses carry
// x-codex-turn-state: "ts-<name>-<n>", a new n for each turn. A request
// that carries a turn state this server issued continues that turn and
// gets the same value back. Every turn state the server received stays on
// record (TurnStatesReceived, ForeignTurnStates), so a test can assert that
// no account's turn state reached another account.
func WithTurnState() Option {
	return func(s *Server) { s.turns.enabled = true }
}

// writeTurnState sets the reply's turn state when WithTurnState is on.
func (s *Server) writeTurnState(reply, req http.Header) {
	ts := &s.turns
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !ts.enabled {
		return
	}
	v := req.Get(turnStateHeader)
	if !ts.issued[v] {
		ts.n++
		v = "ts-" + s.name + "-" + strconv.Itoa(ts.n)
		if ts.issued == nil {
			ts.issued = map[string]bool{}
		}
		ts.issued[v] = true
	}
	reply.Set(turnStateHeader, v)
}

// TurnStatesReceived returns the x-codex-turn-state of every request
// received so far, in arrival order, "" where a request carried none. It
// counts every request, refused or faulted ones too.
func (s *Server) TurnStatesReceived() []string {
	reqs := s.Requests()
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header.Get(turnStateHeader)
	}
	return out
}

// ForeignTurnStates returns the turn states received that this server never
// issued (another account's, or made up), in arrival order; nil when every
// one received was its own.
func (s *Server) ForeignTurnStates() []string {
	received := s.TurnStatesReceived()
	s.turns.mu.Lock()
	defer s.turns.mu.Unlock()
	var out []string
	for _, v := range received {
		if v != "" && !s.turns.issued[v] {
			out = append(out, v)
		}
	}
	return out
}

// CaptivePortal is a 200 whose body is an HTML page: a captive portal, or
// a CDN's challenge page, answering in the upstream's place. Whatever the
// request asked for, it gets the page.
func CaptivePortal() Fault {
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	return Fault{
		Status: http.StatusOK,
		Body:   "<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head><body><form action=\"/login\"><input name=\"user\"></form></body></html>\n",
		Header: h,
	}
}

// Redirect is a 3xx (301, 302, 303, 307, 308 ...) whose Location points
// at location, with the short HTML body servers send beside it.
func Redirect(status int, location string) Fault {
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Location", location)
	return Fault{Status: status, Body: "<a href=\"" + location + "\">" + http.StatusText(status) + "</a>.\n", Header: h}
}
