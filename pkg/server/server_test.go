package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/relay"
)

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		addr        string
		keys        bool
		wantExposed bool
		wantErr     bool // an error other than ErrExposed
	}{
		{addr: "127.0.0.1:8787"},
		{addr: "127.0.0.2:8787"},
		{addr: "[::1]:8787"},
		{addr: "localhost:8787"},
		{addr: "0.0.0.0:8787", wantExposed: true},
		{addr: "0.0.0.0:8787", keys: true},
		{addr: "[::]:8787", wantExposed: true},
		{addr: ":8787", wantExposed: true},
		{addr: "192.168.1.20:8787", wantExposed: true},
		{addr: "192.168.1.20:8787", keys: true},
		{addr: "10.0.0.5:8787", wantExposed: true},
		{addr: "proxy.example.com:8787", wantExposed: true},
		{addr: "127.0.0.1", wantErr: true},
	}
	for _, tc := range tests {
		name := tc.addr
		if tc.keys {
			name += " with keys"
		}
		t.Run(name, func(t *testing.T) {
			err := CheckExposure(tc.addr, tc.keys)
			switch {
			case tc.wantExposed:
				if !errors.Is(err, ErrExposed) {
					t.Fatalf("CheckExposure = %v, want ErrExposed", err)
				}
				if !strings.Contains(err.Error(), tc.addr) || !strings.Contains(err.Error(), "client_keys") {
					t.Errorf("error %q should name the address and the fix", err)
				}
			case tc.wantErr:
				if err == nil || errors.Is(err, ErrExposed) {
					t.Errorf("CheckExposure = %v, want an address error", err)
				}
			default:
				if err != nil {
					t.Errorf("CheckExposure = %v, want nil", err)
				}
			}
		})
	}
}

// apiError is the OpenAI error shape, with param and code kept raw so null
// is told apart from a missing field.
type apiError struct {
	Error map[string]json.RawMessage `json:"error"`
}

func decodeAPIError(t *testing.T, resp *http.Response) apiError {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var e apiError
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, data)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e.Error[k]; !ok {
			t.Errorf("error body has no %q: %s", k, data)
		}
	}
	return e
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func TestRequireClientKey(t *testing.T) {
	keys := []ClientKey{{Name: "laptop", Key: "pk-laptop-0123456789"}, {Name: "ci", Key: "pk-ci-9876543210"}}
	var gotClient string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotClient = relay.ClientFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(requireClientKey(clientAuth{keys: NewKeySet(keys)}, next))
	defer srv.Close()

	tests := []struct {
		name       string
		header     map[string]string
		wantStatus int
		wantClient string
		wantMsg    string
	}{
		{name: "missing", wantStatus: 401, wantMsg: "missing client key"},
		{name: "wrong bearer", header: map[string]string{"Authorization": "Bearer pk-nope"}, wantStatus: 401, wantMsg: "invalid client key"},
		{name: "prefix of a key", header: map[string]string{"Authorization": "Bearer pk-laptop-012345678"}, wantStatus: 401, wantMsg: "invalid client key"},
		{name: "not bearer", header: map[string]string{"Authorization": "Basic cGstbGFwdG9wLTAxMjM0NTY3ODk="}, wantStatus: 401, wantMsg: "missing client key"},
		{name: "empty bearer", header: map[string]string{"Authorization": "Bearer "}, wantStatus: 401, wantMsg: "missing client key"},
		{name: "right bearer", header: map[string]string{"Authorization": "Bearer pk-laptop-0123456789"}, wantStatus: 204, wantClient: "laptop"},
		{name: "bearer scheme in lower case", header: map[string]string{"Authorization": "bearer pk-ci-9876543210"}, wantStatus: 204, wantClient: "ci"},
		{name: "right X-Api-Key", header: map[string]string{"X-Api-Key": "pk-ci-9876543210"}, wantStatus: 204, wantClient: "ci"},
		{name: "wrong X-Api-Key", header: map[string]string{"X-Api-Key": "pk-nope"}, wantStatus: 401, wantMsg: "invalid client key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotClient = ""
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/responses", strings.NewReader(`{}`))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if gotClient != tc.wantClient {
				t.Errorf("relay.ClientFrom = %q, want %q", gotClient, tc.wantClient)
			}
			if tc.wantStatus != 401 {
				return
			}
			e := decodeAPIError(t, resp)
			if msg := str(e.Error["message"]); !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message = %q, want %q", msg, tc.wantMsg)
			}
			if str(e.Error["type"]) != "authentication_error" || str(e.Error["code"]) != "invalid_api_key" || string(e.Error["param"]) != "null" {
				t.Errorf("error = %v", e.Error)
			}
			for _, k := range keys {
				if strings.Contains(str(e.Error["message"]), k.Key) {
					t.Errorf("401 reveals a client key")
				}
			}
		})
	}

	t.Run("no keys: everyone passes, no client name", func(t *testing.T) {
		gotClient = "unset"
		rec := httptest.NewRecorder()
		requireClientKey(clientAuth{keys: NewKeySet(nil)}, next).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/responses", nil))
		if rec.Code != 204 || gotClient != "" {
			t.Errorf("status %d, client %q", rec.Code, gotClient)
		}
	})
}

func newTestServer(t *testing.T, keys []ClientKey) *httptest.Server {
	t.Helper()
	rl := relay.New(nil, nil, relay.Options{})
	srv := httptest.NewServer(New(Options{Relay: rl, Keys: NewKeySet(keys)}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRoutes(t *testing.T) {
	keys := []ClientKey{{Name: "laptop", Key: "pk-laptop-0123456789"}}
	tests := []struct {
		name       string
		keys       []ClientKey
		method     string
		path       string
		key        string
		wantStatus int
		wantCode   string
	}{
		{name: "healthz without keys configured", method: "GET", path: "/healthz", wantStatus: 200},
		{name: "healthz open without a key", keys: keys, method: "GET", path: "/healthz", wantStatus: 200},
		{name: "unknown route", method: "GET", path: "/v1/completions", wantStatus: 404, wantCode: "unknown_route"},
		{name: "chat completions is a route of its own", method: "GET", path: "/v1/chat/completions", wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "unknown route with key", keys: keys, key: "pk-laptop-0123456789", method: "POST", path: "/nope", wantStatus: 404, wantCode: "unknown_route"},
		{name: "unknown route without key is refused first", keys: keys, method: "GET", path: "/nope", wantStatus: 401, wantCode: "invalid_api_key"},
		{name: "api route without key", keys: keys, method: "POST", path: "/v1/responses", wantStatus: 401, wantCode: "invalid_api_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServer(t, tc.keys)
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantCode == "" {
				var body map[string]string
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body["status"] != "ok" {
					t.Errorf("healthz body = %v, %v", body, err)
				}
				return
			}
			e := decodeAPIError(t, resp)
			if got := str(e.Error["code"]); got != tc.wantCode {
				t.Errorf("code = %q, want %q", got, tc.wantCode)
			}
			if tc.wantStatus == 404 {
				if msg := str(e.Error["message"]); !strings.Contains(msg, tc.path) || !strings.Contains(msg, "/v1/responses") {
					t.Errorf("404 message %q should name the path and the routes served", msg)
				}
				if str(e.Error["type"]) != "invalid_request_error" {
					t.Errorf("type = %s", e.Error["type"])
				}
			}
		})
	}
}

func TestKeySetReplace(t *testing.T) {
	const (
		oldKey = "pk-old-0123456789"
		newKey = "pk-new-0123456789"
	)
	label := map[string]string{"": "no key", oldKey: "old key", newKey: "new key"} // keys stay out of test output
	type probe struct {
		key        string // "" sends none
		wantStatus int
		wantClient string
	}
	tests := []struct {
		name   string
		start  []ClientKey
		next   []ClientKey
		before []probe
		after  []probe
	}{
		{
			name:   "rotation refuses the old key and admits the new one",
			start:  []ClientKey{{Name: "laptop", Key: oldKey}},
			next:   []ClientKey{{Name: "laptop2", Key: newKey}},
			before: []probe{{key: oldKey, wantStatus: 204, wantClient: "laptop"}, {key: newKey, wantStatus: 401}},
			after:  []probe{{key: oldKey, wantStatus: 401}, {key: newKey, wantStatus: 204, wantClient: "laptop2"}, {wantStatus: 401}},
		},
		{
			name:   "none to some enforces the keys at once",
			next:   []ClientKey{{Name: "laptop", Key: newKey}},
			before: []probe{{wantStatus: 204}, {key: oldKey, wantStatus: 204}},
			after:  []probe{{wantStatus: 401}, {key: oldKey, wantStatus: 401}, {key: newKey, wantStatus: 204, wantClient: "laptop"}},
		},
		{
			name:   "some to none lets every request through",
			start:  []ClientKey{{Name: "laptop", Key: oldKey}},
			before: []probe{{wantStatus: 401}},
			after:  []probe{{wantStatus: 204}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotClient string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotClient = relay.ClientFrom(r.Context())
				w.WriteHeader(http.StatusNoContent)
			})
			keys := NewKeySet(tc.start)
			h := requireClientKey(clientAuth{keys: keys}, next)
			check := func(when string, probes []probe) {
				t.Helper()
				for _, p := range probes {
					gotClient = ""
					req := httptest.NewRequest(http.MethodPost, "/v1/responses", nil)
					if p.key != "" {
						req.Header.Set("Authorization", "Bearer "+p.key)
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != p.wantStatus || gotClient != p.wantClient {
						t.Errorf("%s, %s: status %d client %q, want %d %q", when, label[p.key], rec.Code, gotClient, p.wantStatus, p.wantClient)
					}
				}
			}
			check("before Replace", tc.before)
			keys.Replace(tc.next)
			if keys.Len() != len(tc.next) {
				t.Errorf("Len = %d, want %d", keys.Len(), len(tc.next))
			}
			check("after Replace", tc.after)
		})
	}

	t.Run("nil set checks nothing", func(t *testing.T) {
		var keys *KeySet
		rec := httptest.NewRecorder()
		requireClientKey(clientAuth{keys: keys}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })).
			ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/responses", nil))
		if rec.Code != 204 || keys.Len() != 0 {
			t.Errorf("status %d, Len %d", rec.Code, keys.Len())
		}
	})
}

// TestKeySetReplaceWhileServing runs Replace beside requests, for the race
// detector: a request sees one whole generation of keys or the next.
func TestKeySetReplaceWhileServing(t *testing.T) {
	a := []ClientKey{{Name: "a", Key: "pk-a-0123456789"}}
	b := []ClientKey{{Name: "b", Key: "pk-b-0123456789"}}
	keys := NewKeySet(a)
	h := requireClientKey(clientAuth{keys: keys}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if i%2 == 0 {
				keys.Replace(b)
			} else {
				keys.Replace(a)
			}
		}
	}()
	for range 200 {
		req := httptest.NewRequest(http.MethodPost, "/v1/responses", nil)
		req.Header.Set("Authorization", "Bearer pk-a-0123456789")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 204 && rec.Code != 401 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	<-done
}

func TestKeySetPinnedSurvivesRotation(t *testing.T) {
	pinned := ClientKey{Name: "screen", Key: "pinned-key-0123456789"}
	s := NewKeySetPinned([]ClientKey{{Name: "laptop", Key: "first-key-0123456789"}}, pinned)
	h := requireClientKey(clientAuth{keys: s}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	status := func(key string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	s.Replace([]ClientKey{{Name: "laptop", Key: "second-key-0123456789"}})
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"first-key-0123456789", http.StatusUnauthorized},
		{"second-key-0123456789", http.StatusOK},
		{"pinned-key-0123456789", http.StatusOK},
	} {
		if got := status(tc.key); got != tc.want {
			t.Errorf("key %.6s...: %d, want %d", tc.key, got, tc.want)
		}
	}
}

// TestBackendBehindTheClientKeyCheck: the ChatGPT backend's paths are the
// proxy's routes like the API's, behind the same key rule, and the
// backend hears who was admitted (a client key, which it never passes on).
func TestBackendBehindTheClientKeyCheck(t *testing.T) {
	keys := []ClientKey{{Name: "laptop", Key: "pk-laptop-0123456789"}}
	var reached []identity.Caller
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, identity.From(r.Context()))
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(New(Options{Relay: relay.New(nil, nil, relay.Options{}), Keys: NewKeySet(keys), Backend: backend}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, path, key string
		want            int
	}{
		{"usage without a key", "/backend-api/wham/usage", "", http.StatusUnauthorized},
		{"usage with a client key", "/backend-api/wham/usage", "pk-laptop-0123456789", http.StatusNoContent},
		{"the other style", "/api/codex/usage", "pk-laptop-0123456789", http.StatusNoContent},
		{"a passed-on call without a key", "/backend-api/wham/accounts/check", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(reached)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			switch got := reached[before:]; {
			case tt.want == http.StatusUnauthorized && len(got) != 0:
				t.Errorf("a refused request reached the backend")
			case tt.want != http.StatusUnauthorized && (len(got) != 1 || got[0].Name != "laptop" || !got[0].KeyHolder()):
				t.Errorf("the backend heard %+v, want the client key laptop", got)
			}
		})
	}
}
