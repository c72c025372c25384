package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/option"

	"github.com/proxy-dev/proxy/pkg/admin"
	"github.com/proxy-dev/proxy/pkg/cmd/root"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// runCLI runs a proxy command line with env as its whole environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ios := &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(k string) string { return env[k] }}
	code := root.Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

// `proxy sessions list` and `clear` against a running proxy with the
// embedded store: the conversation's binding shows, and once cleared its
// next turn binds afresh.
func TestSessionsListAndClearOnRunningProxy(t *testing.T) {
	a := startUpstream(t, "acct-a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "acct-b", fakeupstream.WithAPIKey(keyB))
	p := startProxy(t, "client_keys:\n  - {name: laptop, key: \"${CLIENT_KEY}\"}\naccounts:\n"+
		openaiAccount("a", a, "KEY_A", 1)+openaiAccount("b", b, "KEY_B", 1), env)
	cliEnv := map[string]string{"PROXY_API_KEY": clientKey}
	c := sdk(p)
	streamText(t, c, params("hello"), option.WithHeader("session-id", "conv-1"))

	list := func() []admin.SessionInfo {
		t.Helper()
		code, stdout, stderr := runCLI(t, cliEnv, "sessions", "list", "--addr", p.URL, "--json")
		if code != 0 {
			t.Fatalf("sessions list: exit %d: %s", code, stderr)
		}
		var got []admin.SessionInfo
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("sessions list --json: %v\n%s", err, stdout)
		}
		return got
	}
	got := list()
	if len(got) != 1 || got[0].Client != "laptop" || (got[0].Account != "a" && got[0].Account != "b") {
		t.Fatalf("sessions = %+v, want one of client laptop", got)
	}
	first := got[0]

	if code, _, stderr := runCLI(t, nil, "sessions", "list", "--addr", p.URL); code != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("without PROXY_API_KEY: exit %d, stderr %q; want the server's 401 explained", code, stderr)
	}
	code, stdout, stderr := runCLI(t, cliEnv, "sessions", "clear", "--addr", p.URL, first.Key[:6])
	if code != 0 || !strings.Contains(stdout, "cleared "+first.Key) {
		t.Fatalf("sessions clear: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("after clear: %+v", got)
	}

	streamText(t, c, params("hello again"), option.WithHeader("session-id", "conv-1"))
	got = list()
	if len(got) != 1 || got[0].Key != first.Key {
		t.Errorf("next turn: sessions = %+v, want the same key bound afresh", got)
	}
}
