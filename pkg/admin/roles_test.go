package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/identity"
	"github.com/proxy-dev/proxy/pkg/store"
)

// asCaller serves h as the server does once it has admitted a key: with
// the caller recorded from the X-Test-Caller header ("name/role").
func asCaller(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-Caller"); v != "" {
			name, role, _ := strings.Cut(v, "/")
			r = r.WithContext(identity.With(r.Context(), identity.Caller{Name: name, Role: identity.Role(role)}))
		}
		h.ServeHTTP(w, r)
	})
}

// TestRoles: a user key is refused on the admin-only endpoints, sees only
// its own sessions and events, and cannot clear another key's session; an
// admin key (and a proxy with no keys) does all of it.
func TestRoles(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	bus := event.NewBus()
	a := New(Options{Store: st, Bus: bus})
	srv := httptest.NewServer(asCaller(a))
	t.Cleanup(func() { a.Close(); srv.Close() })
	seed := func() {
		t.Helper()
		for id, client := range map[string]string{"aaaa1111": "ci", "bbbb2222": "lead", "cccc3333": "ci"} {
			if _, _, err := st.Bind(ctx, store.Binding{Session: id, Account: "a", Client: client, Created: time.Now(), LastUsed: time.Now()}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed()
	bus.Publish(event.Decision{RequestID: "req-ci", Client: "ci", Status: 200})
	bus.Publish(event.Decision{RequestID: "req-lead", Client: "lead", Status: 200})
	call := func(method, path, caller string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if caller != "" {
			req.Header.Set("X-Test-Caller", caller)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for _, path := range []string{"/_proxy/status", "/metrics", "/_proxy/nope"} {
		code, body := call(http.MethodGet, path, "ci/user")
		var e struct {
			Error struct{ Type, Code, Message string }
		}
		if code != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "admin_only" || !strings.Contains(e.Error.Message, "role: admin") {
			t.Errorf("user key GET %s = %d %s; want 403 admin_only", path, code, body)
		}
		if code, _ := call(http.MethodGet, path, "lead/admin"); code == http.StatusForbidden {
			t.Errorf("admin key GET %s = 403", path)
		}
	}

	sessions := func(caller string) []string {
		_, body := call(http.MethodGet, "/_proxy/sessions", caller)
		var l SessionList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var out []string
		for _, s := range l.Data {
			out = append(out, s.Client)
		}
		return out
	}
	if got := sessions("ci/user"); len(got) != 2 || got[0] != "ci" || got[1] != "ci" {
		t.Errorf("user key lists %v; want its own two", got)
	}
	if got := sessions("lead/admin"); len(got) != 3 {
		t.Errorf("admin key lists %v; want all three", got)
	}
	if got := sessions(""); len(got) != 3 {
		t.Errorf("no keys configured: lists %v; want all three", got)
	}

	if code, body := call(http.MethodDelete, "/_proxy/sessions/bbbb", "ci/user"); code != http.StatusForbidden || !strings.Contains(body, "not_your_session") {
		t.Errorf("user key clearing another's session = %d %s", code, body)
	}
	if code, body := call(http.MethodDelete, "/_proxy/sessions", "ci/user"); code != http.StatusOK || strings.Count(body, `"client":"ci"`) != 2 || strings.Contains(body, "lead") {
		t.Errorf("user key clearing all = %d %s; want its own two", code, body)
	}
	if got := sessions("lead/admin"); len(got) != 1 || got[0] != "lead" {
		t.Errorf("after the user cleared all of its own, %v are left; want lead's", got)
	}
	if code, _ := call(http.MethodDelete, "/_proxy/sessions/bbbb", "lead/admin"); code != http.StatusOK {
		t.Errorf("admin key clearing lead's session = %d", code)
	}

	events := func(caller string) []string {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/_proxy/events", nil)
		req.Header.Set("X-Test-Caller", caller)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ids []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == ": live" {
				break // the end of the backlog
			}
			if id, ok := strings.CutPrefix(line, "id: "); ok {
				ids = append(ids, id)
			}
		}
		return ids
	}
	// The admin's reader takes the decisions off the bus in its own time.
	for deadline := time.Now().Add(5 * time.Second); len(events("lead/admin")) < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := events("ci/user"); len(got) != 1 || got[0] != "req-ci" {
		t.Errorf("user key's events %v; want its own", got)
	}
	if got := events("lead/admin"); len(got) != 2 {
		t.Errorf("admin key's events %v; want both", got)
	}
}
