package e2e_test

import (
	"context"
	"encoding/json"
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
	const msg = "Node SDK not found: npm install --prefix DIR openai@" + nodeSDKVersion + " and set PROXY_TEST_NODE_SDK=DIR"
	prefix := os.Getenv("PROXY_TEST_NODE_SDK")
	node, err := exec.LookPath("node")
	if prefix == "" || err != nil {
		if os.Getenv("PROXY_REQUIRE_E2E") == "1" {
			t.Fatalf("%s (PROXY_REQUIRE_E2E=1; node: %v)", msg, err)
		}
		t.Skip(msg)
	}
	pkg = filepath.Join(prefix, "node_modules", "openai")
	data, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		// An explicit prefix without the package is a setup error, never a skip.
		t.Fatalf("PROXY_TEST_NODE_SDK=%s: %v", prefix, err)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(data, &meta); err != nil || meta.Version != nodeSDKVersion {
		t.Fatalf("%s is openai %q, want %s (%v)", pkg, meta.Version, nodeSDKVersion, err)
	}
	return node, pkg
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = []string{"SDK_PKG=" + pkg, "PROXY_URL=" + p.URL, "CLIENT_KEY=" + clientKey, "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v\n%s%s\nproxy log:\n%s", err, out, stderr, p.Logs)
	}
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
