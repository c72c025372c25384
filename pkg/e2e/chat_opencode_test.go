package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// opencodeVersion is the release of opencode (opencode-ai on npm, a coding
// agent that speaks Chat Completions to a custom OpenAI-compatible
// provider) the front door is tested against; pinned in .ci/run as well.
const opencodeVersion = "1.18.33"

// opencodeOffline is the environment that keeps opencode off the network:
// no models.dev catalogue, no update check, no default plugins, no LSP
// downloads, no sharing. Its one fetch that no switch turns off, the
// background npm install of @opencode-ai/plugin into its config directory,
// goes to the registry the test passes (npm_config_registry), which
// answers 404: opencode logs a warning and goes on.
var opencodeOffline = []string{
	"OPENCODE_DISABLE_MODELS_FETCH=1",
	"OPENCODE_DISABLE_AUTOUPDATE=1",
	"OPENCODE_DISABLE_DEFAULT_PLUGINS=1",
	"OPENCODE_DISABLE_LSP_DOWNLOAD=1",
	"OPENCODE_DISABLE_SHARE=1",
}

// opencodeBinary finds opencode: $PROXY_TEST_OPENCODE is an npm prefix
// holding opencode-ai (whose postinstall put the platform's binary in
// place). Without it the test is skipped, unless PROXY_REQUIRE_E2E=1.
func opencodeBinary(t *testing.T) string {
	t.Helper()
	prefix := npmPrefix(t, "PROXY_TEST_OPENCODE", pinned{"opencode-ai", opencodeVersion})
	bin := filepath.Join(prefix, "node_modules", ".bin", "opencode")
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("PROXY_TEST_OPENCODE=%s: no executable %s (%v)", prefix, bin, err)
	}
	return bin
}

// registryStub is an npm registry that has nothing: it records what was
// asked of it and answers 404.
type registryStub struct {
	mu    sync.Mutex
	paths []string
}

func (r *registryStub) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.Path)
	r.mu.Unlock()
	http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
}

func (r *registryStub) asked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

// opencodeEvent is one line of `opencode run --format json`.
type opencodeEvent struct {
	Type string
	Part struct {
		Type, Tool, Text, Reason string
		CallID                   string `json:"callID"`
		State                    struct {
			Status string
			Input  struct{ Command string }
		}
	}
}

// opencode (a coding agent, in `opencode run`, its non-interactive mode)
// through the front door with the proxy as a custom OpenAI-compatible
// provider, on both kinds of account: one tool turn, in which the model runs
// a shell command that writes a file, then answers.
func TestChatOpencode(t *testing.T) {
	bin := opencodeBinary(t)
	// Written out, not marshalled: json.Marshal would send ">" as \u003e,
	// and opencode sends back the arguments it parsed.
	const command = "echo opencode-tool-ran > out.txt"
	const args = `{"command":"` + command + `","description":"Write a file"}`
	for _, kind := range chatAccountKinds {
		t.Run(kind, func(t *testing.T) {
			reply := "Hello from " + kind + "."
			up, p := startChatPool(t, kind, fakeupstream.WithToolCall("bash", args))
			registry := &registryStub{}
			npm := httptest.NewServer(registry)
			t.Cleanup(npm.Close)
			config, err := json.Marshal(map[string]any{
				"model":      "proxy/gpt-5",
				"autoupdate": false,
				"share":      "disabled",
				"permission": map[string]string{"*": "allow"},
				"provider": map[string]any{"proxy": map[string]any{
					"npm":     "@ai-sdk/openai-compatible", // bundled in the binary: nothing to install
					"name":    "proxy",
					"options": map[string]string{"baseURL": p.URL + "/v1", "apiKey": clientKey},
					"models":  map[string]any{"gpt-5": map[string]any{"name": "gpt-5", "tool_call": true}},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			work := t.TempDir()
			// --title: no title-writing request beside the turn; --pure: no
			// external plugins.
			out := runClient(t, p, work, append([]string{"OPENCODE_CONFIG_CONTENT=" + string(config), "npm_config_registry=" + npm.URL + "/"}, opencodeOffline...),
				bin, "run", "--pure", "--title", "weather", "--format", "json", "Write the file out.txt.")
			t.Logf("opencode printed:\n%s", out)
			t.Logf("npm registry asked for %q", registry.asked())

			var tools, texts []opencodeEvent
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var ev opencodeEvent
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("opencode printed %q: %v", sc.Bytes(), err)
				}
				switch ev.Type {
				case "tool_use":
					tools = append(tools, ev)
				case "text":
					texts = append(texts, ev)
				}
			}
			if len(tools) != 1 || tools[0].Part.Tool != "bash" || tools[0].Part.State.Status != "completed" || tools[0].Part.State.Input.Command != command {
				t.Errorf("tool uses %+v, want one completed bash %q", tools, command)
			}
			if len(texts) != 1 || texts[0].Part.Text != reply {
				t.Errorf("texts %+v, want %q", texts, reply)
			}
			if data, err := os.ReadFile(filepath.Join(work, "out.txt")); err != nil || strings.TrimSpace(string(data)) != "opencode-tool-ran" {
				t.Errorf("the tool's file: %q, %v", data, err)
			}

			sent := sentRequests(t, up, kind, 2)
			for i, s := range sent {
				// opencode offers its tools (bash, read, apply_patch...) as functions.
				if !s.hasTool("bash") || !s.hasTool("read") {
					t.Errorf("request %d: tools %+v, want opencode's bash and read", i, s.Tools)
				}
				// opencode asks gpt-5 models for reasoning_effort "medium" and caps the answer at 32000.
				if s.Reasoning.Effort != "medium" {
					t.Errorf("request %d: reasoning.effort %q, want medium", i, s.Reasoning.Effort)
				}
				checkOutputCap(t, kind, s, 32000)
			}
			if len(tools) == 1 {
				if name, got, out := sent[1].toolRound(tools[0].Part.CallID); name != "bash" || got != args || out == "" {
					t.Errorf("the second request sends back %s(%s) = %q for %s: %s", name, got, out, tools[0].Part.CallID, sent[1].Raw)
				}
			}
			assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, accessToken, clientKey)
		})
	}
}
