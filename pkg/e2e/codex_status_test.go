package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// TestCodexStatusShowsThePool drives the real Codex TUI in tmux, signed in
// with a ChatGPT login and configured with the README's block (whose
// chatgpt_base_url is the proxy): its /status screen shows the pool's
// windows, the numbers of `proxy accounts list`'s pool line, not the
// login's own account. Once with two accounts partly used, once with one
// near its limit and one fresh. The TUI starts at all only because the
// proxy passes its account check on to the (fake) ChatGPT backend.
func TestCodexStatusShowsThePool(t *testing.T) {
	bin := codexBinary(t)
	tmux := tmuxBinary(t)
	tests := []struct {
		name          string
		first, second [2]float64 // each account's five-hour and weekly used percent
	}{
		{"two accounts partly used", [2]float64{40, 20}, [2]float64{20, 10}},
		{"one near its limit, one fresh", [2]float64{97, 80}, [2]float64{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			near := startUpstream(t, "near", fakeupstream.WithChatGPT(accessToken, "acct-near"), fakeupstream.WithUsedPercent(tt.first[0], tt.first[1]))
			fresh := startUpstream(t, "fresh", fakeupstream.WithChatGPT(accessToken, "acct-fresh"), fakeupstream.WithUsedPercent(tt.second[0], tt.second[1]))
			// The login's own account on chatgpt.com reports windows of
			// its own, which /status must not show.
			own := startUpstream(t, "chatgpt.com", fakeupstream.WithChatGPT(codexLoginToken, "acct-codex-user"), fakeupstream.WithUsedPercent(1, 1))
			p := startProxy(t, "accounts:\n"+chatgptAccount("near", near, "ACCESS", "acct-near", 1)+chatgptAccount("fresh", fresh, "ACCESS", "acct-fresh", 1),
				env, withBackend(own))
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("proxy logs:\n%s", p.Logs)
				}
			})
			warmUp(t, p, near, fresh)

			code, stdout, stderr := runCLI(t, env, "accounts", "list", "-c", p.path, "--addr", p.URL)
			t.Logf("proxy accounts list:\n%s%s", stdout, stderr)
			m := regexp.MustCompile(`pool headroom: 5h (\d+)% left across 2 accounts, 7d (\d+)%`).FindStringSubmatch(stderr)
			if code != 0 || m == nil {
				t.Fatalf("accounts list: exit %d, no pool line for both accounts", code)
			}

			home := codexHomeFromReadme(t, p.URL)
			writeCodexLogin(t, home)
			screen := codexStatusScreen(t, bin, tmux, home)
			t.Logf("Codex /status:\n%s", screen)
			for _, w := range []struct{ label, want string }{{"5h limit:", m[1]}, {"Weekly limit:", m[2]}} {
				got := regexp.MustCompile(regexp.QuoteMeta(w.label) + `\s+\[[^\]]*\]\s+(\d+)% left`).FindStringSubmatch(screen)
				if got == nil || got[1] != w.want {
					t.Errorf("/status %s %v, want %s%% left as the pool line says", w.label, got, w.want)
				}
			}
			for _, r := range own.Requests() {
				if strings.HasSuffix(r.Path, "/wham/usage") {
					t.Errorf("Codex's usage request went to the login's own account: %s", r.Path)
				}
				// Codex's MCP client sends none; the rest its login's.
				if got := r.Header.Get("Authorization"); got != "" && got != "Bearer "+codexLoginToken {
					t.Errorf("%s %s reached chatgpt.com with a credential other than the login's own", r.Method, r.Path)
				}
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, accessToken) {
							t.Errorf("%s %s reached chatgpt.com with the pool account's token in %s", r.Method, r.Path, k)
						}
					}
				}
			}
			if len(own.Requests()) == 0 {
				t.Errorf("none of Codex's other ChatGPT calls was passed to the backend")
			}
			assertNoSecrets(t, "proxy logs", p.Logs.String(), accessToken, codexLoginToken)
		})
	}
}

// tmuxBinary finds tmux, which drives Codex's TUI; without it the test is
// skipped, unless PROXY_REQUIRE_E2E=1 makes it mandatory.
func tmuxBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		const msg = "tmux not found: apt-get install tmux"
		if os.Getenv("PROXY_REQUIRE_E2E") == "1" {
			t.Fatal(msg + " (PROXY_REQUIRE_E2E=1)")
		}
		t.Skip(msg)
	}
	return bin
}

// codexStatusScreen starts Codex's TUI with home in a tmux of its own,
// types /status and returns the screen once it shows the limits (or says
// it has none). Codex's background server, which outlives the TUI, is
// stopped with it.
func codexStatusScreen(t *testing.T, bin, tmux, home string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	work := t.TempDir()
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-s", "codex", "-x", "150", "-y", "45",
		"cd "+work+" && exec env CODEX_HOME="+home+" "+bin)
	t.Cleanup(func() {
		_ = exec.Command(tmux, "-S", sock, "kill-server").Run()
		stopProcessesUsing(t, home)
	})
	screen := func() string { return run("capture-pane", "-p", "-t", "codex") }
	waitScreen := func(what string, done func(string) bool) string {
		deadline := time.Now().Add(60 * time.Second)
		for {
			s := screen()
			if done(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("Codex's screen never showed %s:\n%s", what, s)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitScreen("its composer", func(s string) bool { return strings.Contains(s, "? for shortcuts") })
	// Codex fetches the usage off its start: a /status typed before that
	// answer says "Limits: data not available yet", and a later one shows
	// them. So it asks again, a bounded number of times.
	const notYet = "data not available yet"
	for try := 1; ; try++ {
		run("send-keys", "-t", "codex", "-l", "/status")
		waitScreen("the typed command", func(s string) bool { return strings.Contains(s, "› /status") })
		shown := strings.Count(screen(), notYet)
		run("send-keys", "-t", "codex", "Enter")
		s := waitScreen("the limits", func(s string) bool {
			return strings.Contains(s, "Weekly limit:") || strings.Count(s, notYet) > shown
		})
		if strings.Contains(s, "Weekly limit:") || try == 10 {
			return s
		}
		t.Logf("/status %d: limits not available yet; asking again", try)
		time.Sleep(500 * time.Millisecond)
	}
}

// stopProcessesUsing ends every process whose command line names dir:
// Codex's TUI leaves an app-server daemon running from its CODEX_HOME.
func stopProcessesUsing(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
