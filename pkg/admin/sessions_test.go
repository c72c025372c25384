package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/store"
)

// TestSessionsDeleteEmptyKey: a key that is empty once its slashes are
// trimmed, as a script with an empty variable sends, is refused and clears
// nothing; only DELETE /_proxy/sessions, exactly, clears every session.
func TestSessionsDeleteEmptyKey(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	seed := func() {
		t.Helper()
		for _, id := range []string{"aaaa1111", "bbbb2222"} {
			if _, _, err := st.Bind(ctx, store.Binding{Session: id, Account: "a", Created: time.Now(), LastUsed: time.Now()}, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := New(Options{Store: st, Bus: event.NewBus()})
	srv := httptest.NewServer(a)
	t.Cleanup(func() { a.Close(); srv.Close() })

	tests := []struct {
		path     string
		want     int
		wantLeft int
	}{
		{path: "/_proxy/sessions/", want: 400, wantLeft: 2},
		{path: "/_proxy/sessions/%2F%2F", want: 400, wantLeft: 2},
		{path: "/_proxy/sessions/%2F", want: 400, wantLeft: 2},
		{path: "/_proxy/sessions/aaaa", want: 200, wantLeft: 1},
		{path: "/_proxy/sessions/%2Faaaa%2F", want: 200, wantLeft: 1},
		{path: "/_proxy/sessions", want: 200, wantLeft: 0},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			seed()
			req, _ := http.NewRequest(http.MethodDelete, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct{ Message, Type, Code string }
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%+v)", resp.StatusCode, tc.want, body)
			}
			if tc.want == 400 && (body.Error.Code != "empty_session_key" || body.Error.Type != "invalid_request_error" ||
				!strings.Contains(body.Error.Message, "use DELETE /_proxy/sessions to clear every session")) {
				t.Errorf("error = %+v", body.Error)
			}
			left, err := st.Sessions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != tc.wantLeft {
				t.Errorf("%d sessions left, want %d", len(left), tc.wantLeft)
			}
			for _, b := range left {
				_ = st.Drop(ctx, b.Session)
			}
		})
	}
}
