package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/store"
)

// SessionKeyPrefixLen is how much of a session key (a SHA-256 hex digest)
// the sessions endpoint shows: enough to tell any two live conversations
// apart, short enough to type.
const SessionKeyPrefixLen = 12

// sessionsMinPrefix is the shortest key prefix DELETE accepts, so a stray
// "a" cannot drop a conversation by luck.
const sessionsMinPrefix = 4

// sessionsPath is where the endpoint is mounted.
const sessionsPath = "/_proxy/sessions"

// SessionInfo is one binding as GET /_proxy/sessions lists it.
type SessionInfo struct {
	// Key is the start of the session key; DELETE takes it (or any unique
	// prefix of at least four characters).
	Key      string    `json:"key"`
	Account  string    `json:"account"`
	Type     string    `json:"type,omitempty"`
	Model    string    `json:"model,omitempty"`
	Client   string    `json:"client,omitempty"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	// TTLLeftSeconds is how long the binding lives on without another
	// request; absent when the handler was not told the session TTL.
	TTLLeftSeconds *int64 `json:"ttl_left_seconds,omitempty"`
}

// SessionList is the body of GET /_proxy/sessions.
type SessionList struct {
	Object string        `json:"object"` // "list"
	Data   []SessionInfo `json:"data"`
}

// SessionsDeleted is the body of a successful DELETE.
type SessionsDeleted struct {
	Deleted []SessionInfo `json:"deleted"`
}

// SessionsOption configures the sessions handler.
type SessionsOption func(*sessionsHandler)

// SessionsTTL tells the handler the configured session TTL. Every request
// of a session resets its expiry to the TTL, so the time left is TTL minus
// the time since last use.
func SessionsTTL(ttl time.Duration) SessionsOption {
	return func(h *sessionsHandler) { h.ttl = ttl }
}

// SessionsClock injects the clock, for tests.
func SessionsClock(now func() time.Time) SessionsOption {
	return func(h *sessionsHandler) { h.now = now }
}

type sessionsHandler struct {
	st  *store.Store
	ttl time.Duration
	now func() time.Time
}

// Sessions serves the live session bindings: GET /_proxy/sessions lists
// them, most recently used first; DELETE /_proxy/sessions/{key} drops the
// one binding whose key starts with {key}, so that conversation picks an
// account afresh on its next turn; DELETE /_proxy/sessions, exactly, drops
// them all (a key that is empty once its slashes are trimmed is a 400).
// Mount it at both /_proxy/sessions and /_proxy/sessions/.
func Sessions(st *store.Store, opts ...SessionsOption) http.Handler {
	h := &sessionsHandler{st: st, now: time.Now}
	for _, o := range opts {
		o(h)
	}
	return h
}

func (h *sessionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, sessionsPath)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		sessionsError(w, http.StatusNotFound, "not_found", "no route "+r.URL.Path)
		return
	}
	key := strings.Trim(rest, "/")
	switch {
	case r.Method == http.MethodGet && key == "":
		h.list(w, r)
	case r.Method == http.MethodDelete && rest == "":
		h.drop(w, r, "")
	case r.Method == http.MethodDelete && key == "":
		// A script whose key variable came out empty sends this: it
		// meant one session, so it must not clear them all.
		sessionsError(w, http.StatusBadRequest, "empty_session_key",
			fmt.Sprintf("the session key is empty (the path has only slashes after %s/); give a key prefix (GET %s lists them), or use DELETE %s to clear every session",
				sessionsPath, sessionsPath, sessionsPath))
	case r.Method == http.MethodDelete:
		h.drop(w, r, key)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		sessionsError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"use GET "+sessionsPath+", DELETE "+sessionsPath+"/{key prefix} or DELETE "+sessionsPath)
	}
}

func (h *sessionsHandler) list(w http.ResponseWriter, r *http.Request) {
	bs, err := h.st.Sessions(r.Context())
	if err != nil {
		sessionsError(w, http.StatusServiceUnavailable, "store_unavailable", "reading sessions: "+err.Error())
		return
	}
	caller := identity.From(r.Context())
	out := SessionList{Object: "list", Data: make([]SessionInfo, 0, len(bs))}
	for _, b := range bs {
		// A user key sees its own conversations only.
		if caller.Owns(b.Client) {
			out.Data = append(out.Data, h.info(b))
		}
	}
	sessionsJSON(w, http.StatusOK, out)
}

// drop deletes the binding matching prefix, or every binding when prefix
// is empty.
func (h *sessionsHandler) drop(w http.ResponseWriter, r *http.Request, prefix string) {
	if prefix != "" && len(prefix) < sessionsMinPrefix {
		sessionsError(w, http.StatusBadRequest, "key_too_short",
			fmt.Sprintf("session key prefix %q is too short: give at least %d characters", prefix, sessionsMinPrefix))
		return
	}
	bs, err := h.st.Sessions(r.Context())
	if err != nil {
		sessionsError(w, http.StatusServiceUnavailable, "store_unavailable", "reading sessions: "+err.Error())
		return
	}
	caller := identity.From(r.Context())
	var match, others []store.Binding
	for _, b := range bs {
		if !strings.HasPrefix(b.Session, strings.ToLower(prefix)) {
			continue
		}
		// A user key clears its own conversations only; clearing all
		// clears all of its own.
		if caller.Owns(b.Client) {
			match = append(match, b)
		} else {
			others = append(others, b)
		}
	}
	if prefix != "" && len(match) == 0 && len(others) > 0 {
		apierror.New(http.StatusForbidden, apierror.TypePermission,
			fmt.Sprintf("the session %q belongs to another client key; client key %s may clear only its own (GET %s lists them)", prefix, caller.Name, sessionsPath)).
			WithCode("not_your_session").Write(w)
		return
	}
	switch {
	case prefix != "" && len(match) == 0:
		sessionsError(w, http.StatusNotFound, "session_not_found",
			fmt.Sprintf("no session key starts with %q; GET %s lists them", prefix, sessionsPath))
		return
	case prefix != "" && len(match) > 1:
		sessionsError(w, http.StatusConflict, "ambiguous_session",
			fmt.Sprintf("%d session keys start with %q; give more characters", len(match), prefix))
		return
	}
	out := SessionsDeleted{Deleted: make([]SessionInfo, 0, len(match))}
	for _, b := range match {
		if err := h.st.Drop(r.Context(), b.Session); err != nil {
			sessionsError(w, http.StatusServiceUnavailable, "store_unavailable", "dropping session: "+err.Error())
			return
		}
		out.Deleted = append(out.Deleted, h.info(b))
	}
	sessionsJSON(w, http.StatusOK, out)
}

func (h *sessionsHandler) info(b store.Binding) SessionInfo {
	s := SessionInfo{
		Key: b.Session, Account: b.Account, Type: b.Type, Model: b.Model, Client: b.Client,
		Created: b.Created, LastUsed: b.LastUsed,
	}
	if len(s.Key) > SessionKeyPrefixLen {
		s.Key = s.Key[:SessionKeyPrefixLen]
	}
	if h.ttl > 0 {
		left := int64(max(0, b.LastUsed.Add(h.ttl).Sub(h.now())) / time.Second)
		s.TTLLeftSeconds = &left
	}
	return s
}

func sessionsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sessionsError(w http.ResponseWriter, status int, code, message string) {
	typ := apierror.TypeInvalidRequest
	if status >= 500 {
		typ = apierror.TypeServer
	}
	apierror.New(status, typ, message).WithCode(code).Write(w)
}
