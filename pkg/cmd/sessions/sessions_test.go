package sessions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/sessions"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/store"
)

// sessionsServer serves the real sessions endpoint over an embedded store
// holding three bindings, two of whose keys share a prefix.
func sessionsServer(t *testing.T) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{KeyPrefix: "proxy:", Now: cmdtest.FixedNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, b := range []store.Binding{
		{Session: "aaaa1111" + strings.Repeat("0", 56), Account: "api", Type: "openai", Model: "gpt-5", Client: "laptop",
			Created: cmdtest.TestClock.Add(-2 * time.Hour), LastUsed: cmdtest.TestClock.Add(-5 * time.Minute)},
		{Session: "aaaa2222" + strings.Repeat("0", 56), Account: "chatgpt", Type: "openai-responses", Model: "gpt-5-codex",
			Created: cmdtest.TestClock.Add(-90 * time.Second), LastUsed: cmdtest.TestClock.Add(-30 * time.Second)},
		{Session: "bbbb3333" + strings.Repeat("0", 56), Account: "api", Type: "openai", Model: "gpt-5",
			Created: cmdtest.TestClock.Add(-26 * time.Hour), LastUsed: cmdtest.TestClock.Add(-20 * time.Minute)},
	} {
		if _, _, err := st.Bind(ctx, b, 30*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	h := admin.Sessions(st, admin.SessionsTTL(30*time.Minute), admin.SessionsClock(cmdtest.FixedNow))
	return st, cmdtest.Serve(t, h).URL
}

func TestSessionsListGolden(t *testing.T) {
	for _, tt := range []struct {
		name, golden string
		tty, json    bool
	}{
		{name: "terminal", golden: "sessions-list-tty.golden", tty: true},
		{name: "piped", golden: "sessions-list-piped.golden"},
		{name: "json", golden: "sessions-list-json.golden", json: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, url := sessionsServer(t)
			ios, out, _ := cmdtest.IO(nil, tt.tty)
			if err := sessions.RunSessionsList(context.Background(), &sessions.SessionsOptions{IO: ios, Addr: url, JSON: tt.json, Now: cmdtest.FixedNow}); err != nil {
				t.Fatal(err)
			}
			cmdtest.AssertGolden(t, tt.golden, out.String())
			if tt.json {
				var got []map[string]any
				if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 3 {
					t.Errorf("JSON %v: %s", err, out)
				}
			}
		})
	}
}

func TestSessionsClear(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		want      int
		wantOut   string
		wantErr   string
		remaining int
	}{
		{name: "one by unique prefix", args: []string{"aaaa2"}, wantOut: "cleared aaaa22220000 (was on chatgpt)", remaining: 2},
		{name: "ambiguous prefix", args: []string{"aaaa"}, want: cmdutil.ExitFailure, wantErr: "409 2 session keys start with", remaining: 3},
		{name: "no such session", args: []string{"cccc"}, want: cmdutil.ExitFailure, wantErr: "no session matches \"cccc\", as a key prefix or as a conversation id; `proxy sessions list` shows the keys", remaining: 3},
		{name: "no such conversation id", args: []string{"my-conversation"}, want: cmdutil.ExitFailure, wantErr: `no session matches "my-conversation"`, remaining: 3},
		{name: "prefix too short", args: []string{"a"}, want: cmdutil.ExitFailure, wantErr: "400 session key prefix", remaining: 3},
		{name: "all", args: []string{"--all"}, wantErr: "3 session(s) cleared", remaining: 0},
		{name: "neither key nor --all", want: cmdutil.ExitFailure, wantErr: "give a session KEY", remaining: 3},
		{name: "an empty key", args: []string{""}, want: cmdutil.ExitFailure, wantErr: `the session KEY given is empty (""; an unset variable?)`, remaining: 3},
		{name: "an empty key beside --all", args: []string{"", "--all"}, want: cmdutil.ExitFailure, wantErr: "the session KEY given is empty", remaining: 3},
		{name: "a slash-only key", args: []string{"//"}, want: cmdutil.ExitFailure, wantErr: "or --all alone to clear every session", remaining: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, url := sessionsServer(t)
			code, stdout, stderr := cmdtest.RunWith(t, nil, append([]string{"sessions", "clear", "--addr", url}, tt.args...)...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d; stderr %s", code, tt.want, stderr)
			}
			if !strings.Contains(stdout, tt.wantOut) || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stdout %q (want %q), stderr %q (want %q)", stdout, tt.wantOut, stderr, tt.wantErr)
			}
			bs, err := st.Sessions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != tt.remaining {
				t.Errorf("%d sessions left, want %d", len(bs), tt.remaining)
			}
		})
	}
}

func TestSessionsWithoutServer(t *testing.T) {
	code, _, stderr := cmdtest.RunWith(t, nil, "sessions", "list", "--addr", cmdtest.ClosedAddr(t))
	if code != cmdutil.ExitFailure || !strings.Contains(stderr, "server not running at http://127.0.0.1:") {
		t.Errorf("exit code %d, stderr %q", code, stderr)
	}
}

func TestSessionsEndpointMethods(t *testing.T) {
	_, url := sessionsServer(t)
	req, _ := http.NewRequest(http.MethodPost, url+"/_proxy/sessions", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusMethodNotAllowed || body.Error.Code != "method_not_allowed" || resp.Header.Get("Allow") == "" {
		t.Errorf("POST: %d %+v, want an OpenAI-shaped 405 with Allow", resp.StatusCode, body)
	}
}
