package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// nodeSDKVersion is the release of the official Node SDK (the openai npm
// package) the proxy is tested against (pinned in .ci/run as well). The 7
// line needs Node 22; this one runs on the Node 20 the machines have.
const nodeSDKVersion = "6.49.0"

// nodeSDK finds the Node SDK: $PROXY_TEST_NODE_SDK is an npm prefix holding
// node_modules/openai, and node must be on PATH. Without them the test is
// skipped, unless PROXY_REQUIRE_E2E=1 makes it mandatory.
func nodeSDK(t *testing.T) (node, pkg string) {
	t.Helper()
	prefix := npmPrefix(t, "PROXY_TEST_NODE_SDK", pinned{"openai", nodeSDKVersion})
	return nodeBinary(t, "PROXY_TEST_NODE_SDK"), filepath.Join(prefix, "node_modules", "openai")
}

// pinned is an npm package at the release the tests are pinned to.
type pinned struct{ name, version string }

// npmPrefix returns $envVar, an npm prefix (npm install --prefix DIR) that
// must hold every package at its pinned version. Without the variable the
// test is skipped, unless PROXY_REQUIRE_E2E=1 makes it mandatory; a prefix
// without a package, or with another release of it, is a setup error.
func npmPrefix(t *testing.T, envVar string, pkgs ...pinned) string {
	t.Helper()
	prefix := os.Getenv(envVar)
	if prefix == "" {
		var install []string
		for _, p := range pkgs {
			install = append(install, p.name+"@"+p.version)
		}
		msg := fmt.Sprintf("%s not set: npm install --prefix DIR %s and set %s=DIR", envVar, strings.Join(install, " "), envVar)
		if os.Getenv("PROXY_REQUIRE_E2E") == "1" {
			t.Fatal(msg + " (PROXY_REQUIRE_E2E=1)")
		}
		t.Skip(msg)
	}
	for _, p := range pkgs {
		path := filepath.Join(prefix, "node_modules", filepath.FromSlash(p.name), "package.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s=%s: %v", envVar, prefix, err)
		}
		var meta struct{ Version string }
		if err := json.Unmarshal(data, &meta); err != nil || meta.Version != p.version {
			t.Fatalf("%s is %s %q, want %s (%v)", path, p.name, meta.Version, p.version, err)
		}
	}
	return prefix
}

// nodeBinary is node from PATH; the test that needs it was asked for by
// envVar being set, so a missing node is a setup error, never a skip.
func nodeBinary(t *testing.T, envVar string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s is set but node is not on PATH: %v", envVar, err)
	}
	return node
}

// runClient runs a client program against p until it exits (at most a
// minute), with env as its whole environment plus PATH and a HOME of its
// own, in dir ("" for a temporary one), and returns what it printed on
// stdout. A failed run fails the test with the program's output and the
// proxy's log.
func runClient(t *testing.T, p *running, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if dir == "" {
		dir = t.TempDir()
	}
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.WaitDelay = 5 * time.Second
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s\nproxy log:\n%s", filepath.Base(name), err, out, stderr.String(), p.Logs)
	}
	return out
}

// runNodeScript runs the script in testdata/name with node, logs the one
// JSON line it prints and decodes it into v.
func runNodeScript(t *testing.T, p *running, node, name string, v any, env ...string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	out := runClient(t, p, "", env, node, script)
	t.Logf("%s printed %s", name, out)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s printed %q: %v", name, out, err)
	}
}

// nodeScript runs both kinds of Responses request through the SDK and
// prints what it got as one JSON line. The SDK sends its own headers
// (x-stainless-*, its User-Agent): none of them is Origin or Sec-Fetch-*.
const nodeScript = `
const OpenAI = require(process.env.SDK_PKG);
const client = new OpenAI({ baseURL: process.env.PROXY_URL + "/v1", apiKey: process.env.CLIENT_KEY, maxRetries: 0 });
(async () => {
  const plain = await client.responses.create({ model: "gpt-5", input: "hello" });
  const stream = await client.responses.create({ model: "gpt-5", input: "hello", stream: true });
  let deltas = "", completed = "", events = 0;
  for await (const ev of stream) {
    events++;
    if (ev.type === "response.output_text.delta") deltas += ev.delta;
    if (ev.type === "response.completed") completed = ev.response.id;
  }
  console.log(JSON.stringify({ plain: plain.output_text, plainTokens: plain.usage.output_tokens, deltas, completed, events }));
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
`

// The official Node SDK against the real proxy with its Host and Origin
// checks on (and a client key): a non-streamed and a streamed request.
func TestNodeSDKThroughProxy(t *testing.T) {
	node, pkg := nodeSDK(t)
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "client_keys:\n  - name: node\n    key: ${CLIENT_KEY}\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	script := filepath.Join(t.TempDir(), "sdk.js")
	if err := os.WriteFile(script, []byte(nodeScript), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runClient(t, p, "", []string{"SDK_PKG=" + pkg, "PROXY_URL=" + p.URL, "CLIENT_KEY=" + clientKey}, node, script)
	var got struct {
		Plain       string
		PlainTokens int
		Deltas      string
		Completed   string
		Events      int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	if got.Plain != "Hello from a." || got.PlainTokens == 0 {
		t.Errorf("non-streamed: %+v", got)
	}
	if got.Deltas != "Hello from a." || got.Completed == "" || got.Events < 4 {
		t.Errorf("streamed: %+v", got)
	}
	reqs := a.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if ua := r.Header.Get("User-Agent"); !strings.Contains(ua, "OpenAI/JS") {
			t.Errorf("User-Agent %q: not the Node SDK's", ua)
		}
	}
	if strings.Contains(p.Logs.String(), "refused") {
		t.Errorf("the proxy refused something:\n%s", p.Logs)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, clientKey)
}
