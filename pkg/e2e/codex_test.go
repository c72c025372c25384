package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// codexVersion is the Codex CLI release the proxy is tested against (pinned in
// .ci/run as well).
const codexVersion = "0.171.0"

// codexBinary finds the Codex CLI: $PROXY_TEST_CODEX, else codex on PATH. Without
// one the test is skipped, unless PROXY_REQUIRE_E2E=1 makes it mandatory.
func codexBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PROXY_TEST_CODEX")
	if bin == "" {
		bin, _ = exec.LookPath("codex")
	} else if _, err := os.Stat(bin); err != nil {
		// An explicit path that does not exist is a setup error, never a skip.
		t.Fatalf("PROXY_TEST_CODEX=%s: %v", bin, err)
	}
	if bin == "" {
		const msg = "Codex CLI not found: npm install -g @openai/codex@" + codexVersion + " or set PROXY_TEST_CODEX"
		if os.Getenv("PROXY_REQUIRE_E2E") == "1" {
			t.Fatal(msg + " (PROXY_REQUIRE_E2E=1)")
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	version := strings.TrimSpace(string(out))
	t.Logf("Codex CLI %s: %s", bin, version)
	if !strings.HasSuffix(version, " "+codexVersion) {
		t.Fatalf("%s --version = %q, want %s", bin, version, codexVersion)
	}
	return bin
}

// codexHome writes a CODEX_HOME whose config points Codex at the proxy through a
// custom provider, with every closed-network setting from CODEX.md so nothing
// is tried beyond the proxy, and retries lowered so a failure fails fast
// (measured: with the proxy down, codex exec exits 1 within about 1.5 s). The
// runs pass --strict-config, so a key this Codex version does not know fails
// the test instead of being silently ignored.
func codexHome(t *testing.T, proxyURL string) string {
	t.Helper()
	return codexHomeRetries(t, proxyURL, 0)
}

// codexHomeRetries is codexHome with Codex's own retries set to retries
// (request_max_retries and stream_max_retries), for the tests of what
// Codex's retry of a failed turn does through the proxy.
func codexHomeRetries(t *testing.T, proxyURL string, retries int) string {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`model = "gpt-5"
model_provider = "proxy"
check_for_update_on_startup = false

[model_providers.proxy]
name = "Local proxy"
base_url = "%[1]s/v1"
wire_api = "responses"
env_key = "PROXY_API_KEY"
request_max_retries = %[2]d
stream_max_retries = %[2]d
stream_idle_timeout_ms = 30000

[features]
plugins = false
shell_snapshot = false
unbounded_connection_retries = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
`, proxyURL, retries)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// codexRun is one finished `codex exec` run.
type codexRun struct {
	Stdout, Stderr string
	Took           time.Duration
}

func (r codexRun) String() string {
	return "--- stdout ---\n" + r.Stdout + "\n--- stderr ---\n" + r.Stderr
}

// runCodex runs the Codex CLI headless with stdin from /dev/null and a minimal
// environment, in workDir, and fails the test unless it exits 0 in time.
func runCodex(t *testing.T, bin, home, workDir, apiKey string, args ...string) codexRun {
	t.Helper()
	return runCodexEnv(t, bin, home, workDir, apiKey, nil, args...)
}

// runCodexEnv is runCodex with extra environment variables (such as
// CODEX_API_KEY, which the built-in provider reads).
func runCodexEnv(t *testing.T, bin, home, workDir, apiKey string, extra map[string]string, args ...string) codexRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = workDir
	cmd.Stdin = nil // /dev/null: a non-terminal stdin would be read to EOF
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), // codex is a node launcher: it needs node
		"HOME=" + home,
		"CODEX_HOME=" + home,
		"PROXY_API_KEY=" + apiKey,
		"NO_COLOR=1",
		"TERM=dumb",
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second // never hang on pipes a stray child keeps open
	start := time.Now()
	err := cmd.Run()
	run := codexRun{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("codex %s timed out after %v\n%s", strings.Join(args, " "), run.Took, run)
	}
	if err != nil {
		t.Fatalf("codex %s: %v\n%s", strings.Join(args, " "), err, run)
	}
	t.Logf("codex %s: exit 0 in %v", strings.Join(args, " "), run.Took.Round(time.Millisecond))
	return run
}

var (
	helloFrom = regexp.MustCompile(`Hello from ([A-Za-z0-9_-]+)\.`)
	sessionID = regexp.MustCompile(`(?m)^session id: ([0-9a-fA-F-]{36})\s*$`)
)

// servedBy returns the account named in the fake reply, "" when none.
func servedBy(output string) string {
	if m := helloFrom.FindStringSubmatch(output); m != nil {
		return m[1]
	}
	return ""
}

// TestCodexCLITwoTurnsStayOnOneAccount drives the real Codex CLI through the
// proxy for one conversation: a new session, a resume of it by its id, and a
// resume with --last. Every turn must be served by the same upstream account,
// which must have seen the conversation's session id each time, while the
// other accounts see nothing; no client key or upstream secret may leak
// upstream or into the proxy's logs.
func TestCodexCLITwoTurnsStayOnOneAccount(t *testing.T) {
	bin := codexBinary(t)

	ups := map[string]*fakeupstream.Server{
		"api-a":   startUpstream(t, "api-a", fakeupstream.WithAPIKey(keyA)),
		"api-b":   startUpstream(t, "api-b", fakeupstream.WithAPIKey(keyB)),
		"chatgpt": startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(accessToken, "acct-123")),
	}
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+
		openaiAccount("api-a", ups["api-a"], "KEY_A", 1)+
		openaiAccount("api-b", ups["api-b"], "KEY_B", 1)+
		chatgptAccount("chatgpt", ups["chatgpt"], "ACCESS", "acct-123", 1), env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy logs:\n%s", p.Logs)
			for name, s := range ups {
				t.Logf("%s received %s", name, describe(s.Requests()))
			}
		}
	})

	home := codexHome(t, p.URL)
	work := t.TempDir()

	// Turn 1: a new conversation. The final message goes to stdout, the
	// banner with the session id to stderr.
	first := runCodex(t, bin, home, work, clientKey, "exec", "--skip-git-repo-check", "--strict-config", "--color", "never", "say hi")
	account := servedBy(first.Stdout)
	if _, ok := ups[account]; !ok {
		t.Fatalf("turn 1: no \"Hello from <account>.\" in stdout\n%s", first)
	}
	m := sessionID.FindStringSubmatch(first.Stderr)
	if m == nil {
		t.Fatalf("turn 1: no \"session id: ...\" in stderr\n%s", first)
	}
	conv := m[1]
	t.Logf("turn 1: session %s served by %s", conv, account)

	// Turn 2: the same conversation, resumed by its id.
	second := runCodex(t, bin, home, work, clientKey, "exec", "resume", "--skip-git-repo-check", "--strict-config", conv, "again")
	// Turn 3: resumed as the most recent session of this working directory.
	third := runCodex(t, bin, home, work, clientKey, "exec", "resume", "--skip-git-repo-check", "--strict-config", "--last", "once more")
	for i, run := range []codexRun{second, third} {
		if got := servedBy(run.Stdout); got != account {
			t.Fatalf("turn %d was served by %q, turn 1 by %q: the conversation moved\n%s", i+2, got, account, run)
		}
		if m := sessionID.FindStringSubmatch(run.Stderr); m == nil || m[1] != conv {
			t.Fatalf("turn %d did not resume session %s\n%s", i+2, conv, run)
		}
	}

	// The serving account saw every turn, each with the conversation id, and
	// each turn resent the history so far.
	var turns []fakeupstream.Request
	for _, r := range ups[account].Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/responses") {
			turns = append(turns, r)
		}
	}
	if len(turns) != 3 {
		t.Fatalf("%s got %d POST /responses, want 3 (one per turn): %s", account, len(turns), describe(ups[account].Requests()))
	}
	for i, r := range turns {
		if got := r.Header.Get("Session-Id"); got != conv {
			t.Errorf("turn %d reached %s with session-id %q, want %q", i+1, account, got, conv)
		}
		if !bytes.Contains(r.Body, []byte(`"prompt_cache_key":"`+conv+`"`)) {
			t.Errorf("turn %d body lacks prompt_cache_key %s", i+1, conv)
		}
		if i > 0 && bytes.Count(r.Body, []byte("Hello from "+account+".")) != i {
			t.Errorf("turn %d did not resend the %d earlier replies in its history", i+1, i)
		}
	}
	logCodexRequest(t, turns[0])
	// Codex 0.171.0 sends accept-encoding: zstd,gzip. That belongs to its
	// leg: the proxy reads the upstream's events itself, so the client's
	// value must not reach the account (Go's transport asks for gzip on its
	// own, and decodes it).
	for i, r := range turns {
		if ae := r.Header.Get("Accept-Encoding"); strings.Contains(ae, "zstd") {
			t.Errorf("turn %d reached %s with the client's Accept-Encoding %q", i+1, account, ae)
		}
	}

	// The other accounts saw nothing of it (nor anything else).
	for name, s := range ups {
		if name != account && len(s.Requests()) != 0 {
			t.Errorf("account %s got requests of a conversation bound to %s: %s", name, account, describe(s.Requests()))
		}
	}

	// The proxy's request log: the binding was made on turn 1 and hit on
	// every later turn, keyed by Codex's session header, for the client key's name.
	var lines []string
	for _, l := range strings.Split(p.Logs.String(), "\n") {
		if strings.Contains(l, " msg=request ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("proxy logged %d request lines, want 3", len(lines))
	}
	for i, l := range lines {
		reason := "reason=sticky"
		if i == 0 {
			reason = "reason=new"
		}
		for _, want := range []string{"account=" + account + " ", reason + " ", "source=header ", "status=200 ", "client=laptop"} {
			if !strings.Contains(l, want) {
				t.Errorf("proxy log line %d lacks %q: %s", i+1, want, l)
			}
		}
	}

	// Secrets: the client key never goes upstream; no key or token in the logs.
	for name, s := range ups {
		for _, r := range s.Requests() {
			for k, vs := range r.Header {
				for _, v := range vs {
					if strings.Contains(v, clientKey) {
						t.Errorf("the client key reached %s in header %s", name, k)
					}
				}
			}
			if bytes.Contains(r.Body, []byte(clientKey)) {
				t.Errorf("the client key reached %s in a body", name)
			}
		}
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), clientKey, keyA, keyB, accessToken)
	assertNoSecrets(t, "codex output", first.String()+second.String()+third.String(), keyA, keyB, accessToken)
}

// describe lists requests as "METHOD path" for failure messages.
func describe(reqs []fakeupstream.Request) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.Method + " " + r.Path
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// logCodexRequest logs the headers Codex sent that routing depends on.
func logCodexRequest(t *testing.T, r fakeupstream.Request) {
	t.Helper()
	for _, h := range []string{"Session-Id", "Thread-Id", "X-Client-Request-Id", "X-Codex-Window-Id", "X-Codex-Beta-Features", "Originator", "User-Agent"} {
		t.Logf("codex sent %s: %q", h, r.Header.Get(h))
	}
}
