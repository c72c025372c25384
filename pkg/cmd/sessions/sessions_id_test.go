package sessions_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/sessions"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/store"
)

// TestSessionsClearByConversationID clears a binding by the id the client
// sent, which the proxy only knows hashed, as well as by a key prefix
// that happens to look like an id.
func TestSessionsClearByConversationID(t *testing.T) {
	tests := []struct {
		name, id string
	}{
		{"a Codex session id", "019a4c2e-7d1b-7c33-9e0f-5b8a6d2c1e47"},
		{"a made-up id", "my-conversation"},
		{"an id that looks like hex", "deadbeef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, url := sessionsServer(t)
			b := store.Binding{Session: session.HashID(tt.id), Account: "chatgpt", Type: "openai-responses", Model: "gpt-5-codex",
				Created: cmdtest.TestClock.Add(-time.Minute), LastUsed: cmdtest.TestClock}
			if _, _, err := st.Bind(context.Background(), b, 30*time.Minute); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := cmdtest.RunWith(t, nil, "sessions", "clear", "--addr", url, tt.id)
			if code != cmdutil.ExitOK || !strings.Contains(stdout, "cleared "+b.Session[:admin.SessionKeyPrefixLen]+" (was on chatgpt)") {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if bs, _ := st.Sessions(context.Background()); len(bs) != 3 {
				t.Errorf("%d sessions left, want the other 3", len(bs))
			}
		})
	}
}

// TestSessionsListWithoutClients drops the CLIENT column when no session
// has a client (a proxy without client keys), piped output included.
func TestSessionsListWithoutClients(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{KeyPrefix: "proxy:", Now: cmdtest.FixedNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, b := range []store.Binding{
		{Session: "aaaa1111" + strings.Repeat("0", 56), Account: "api", Type: "openai", Model: "gpt-5",
			Created: cmdtest.TestClock.Add(-2 * time.Hour), LastUsed: cmdtest.TestClock.Add(-5 * time.Minute)},
		{Session: "bbbb3333" + strings.Repeat("0", 56), Account: "chatgpt", Type: "openai-responses", Model: "gpt-5-codex",
			Created: cmdtest.TestClock.Add(-90 * time.Second), LastUsed: cmdtest.TestClock.Add(-30 * time.Second)},
	} {
		if _, _, err := st.Bind(ctx, b, 30*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	url := cmdtest.Serve(t, admin.Sessions(st, admin.SessionsTTL(30*time.Minute), admin.SessionsClock(cmdtest.FixedNow))).URL
	for _, tty := range []bool{true, false} {
		ios, out, _ := cmdtest.IO(nil, tty)
		if err := sessions.RunSessionsList(ctx, &sessions.SessionsOptions{IO: ios, Addr: url, Now: cmdtest.FixedNow}); err != nil {
			t.Fatal(err)
		}
		name := "sessions-list-noclient-piped.golden"
		if tty {
			name = "sessions-list-noclient-tty.golden"
		}
		cmdtest.AssertGolden(t, name, out.String())
	}
}
