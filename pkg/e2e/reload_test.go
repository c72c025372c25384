package e2e_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

func TestReloadSwapsAccountsAndRejectsBadFiles(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	hang := make(chan struct{})
	a.Script(fakeupstream.Fault{Hang: hang, HangAfter: 2})
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)

	// A stream in flight on a ...
	inFlight := make(chan string)
	go func() {
		_, _, body := post(t, p.URL, "long")
		inFlight <- body
	}()
	waitForRequest(t, a, inFlight)

	// ... survives a reload that disables a and adds b.
	err := p.rewrite(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+"    enabled: false\n"+openaiAccount("b", b, "KEY_B", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, body := post(t, p.URL, "new"); !strings.Contains(body, "Hello from b.") {
		t.Fatalf("after reload a new session got:\n%s", body)
	}
	close(hang)
	if body := <-inFlight; !strings.Contains(body, "Hello from a.") || !strings.Contains(body, "response.completed") {
		t.Fatalf("the stream in flight did not finish on its account:\n%s", body)
	}

	// A bad file is rejected with its problems and the running config stays.
	err = p.rewrite(t, "accounts:\n  - name: x\n    type: opnai\n")
	var problems config.Problems
	if !errors.As(err, &problems) || !strings.Contains(err.Error(), `accounts[0].type: "opnai" is not one of`) {
		t.Fatalf("bad reload: %v", err)
	}
	if _, _, body := post(t, p.URL, "after-bad"); !strings.Contains(body, "Hello from b.") {
		t.Fatalf("after a rejected reload:\n%s", body)
	}
}

// postWithKey sends a streaming request with the client key (none when "")
// and returns its status once the answer has been read.
func postWithKey(t *testing.T, base, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.ReadAll(resp.Body)
	return resp.StatusCode
}

func TestReloadAppliesClientKeys(t *testing.T) {
	const (
		key1 = "client-key-one-0123456789"
		key2 = "client-key-two-0123456789"
	)
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	keyEnv := map[string]string{"KEY_A": keyA, "KEY_1": key1, "KEY_2": key2}
	accounts := "accounts:\n" + openaiAccount("a", a, "KEY_A", 1)
	p := startProxy(t, accounts, keyEnv)

	keyLabel := map[string]string{"": "no key", key1: "key 1", key2: "key 2"} // keys stay out of test output
	type probe struct {
		key  string
		want int
	}
	steps := []struct {
		name   string
		config string
		probes []probe
	}{
		{name: "keys added where there were none are enforced at once",
			config: "client_keys:\n  - {name: one, key: \"${KEY_1}\"}\n" + accounts,
			probes: []probe{{"", 401}, {key2, 401}, {key1, 200}}},
		{name: "a rotated key is refused and the new one admitted",
			config: "client_keys:\n  - {name: two, key: \"${KEY_2}\"}\n" + accounts,
			probes: []probe{{key1, 401}, {"", 401}, {key2, 200}}},
	}
	for _, step := range steps {
		if err := p.rewrite(t, step.config); err != nil {
			t.Fatalf("%s: reload: %v", step.name, err)
		}
		for _, pr := range step.probes {
			if got := postWithKey(t, p.URL, pr.key); got != pr.want {
				t.Errorf("%s: %s: status %d, want %d", step.name, keyLabel[pr.key], got, pr.want)
			}
		}
	}
	logs := p.Logs.String()
	if !strings.Contains(logs, `msg="config reloaded" accounts=1 client_keys=1`) {
		t.Errorf("logs lack the reload with its counts:\n%s", logs)
	}
	// The listen flag still overrides the file: no restart is asked for.
	if strings.Contains(logs, "need a restart") {
		t.Errorf("a reload of accounts and keys asked for a restart:\n%s", logs)
	}

	err := p.rewrite(t, "timeouts:\n  stream_idle: 1m\nclient_keys:\n  - {name: two, key: \"${KEY_2}\"}\n"+accounts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "reload: these settings need a restart to take effect: timeouts.stream_idle"; !strings.Contains(p.Logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, p.Logs)
	}
	assertNoSecrets(t, "proxy logs", p.Logs.String(), keyA, key1, key2)
}

func TestReloadRejectsNothingToServe(t *testing.T) {
	tests := []struct {
		name    string
		config  func(a *fakeupstream.Server) string
		wantLog string
	}{
		{name: "an empty file", config: func(*fakeupstream.Server) string { return "" }, wantLog: "is empty: no enabled account would be left"},
		{name: "the only account disabled", config: func(a *fakeupstream.Server) string {
			return "accounts:\n" + openaiAccount("a", a, "KEY_A", 1) + "    enabled: false\n"
		}, wantLog: "is disabled (enabled: false): no enabled account would be left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
			p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
			err := p.rewrite(t, tt.config(a))
			if !errors.Is(err, serve.ErrReloadNoAccount) {
				t.Fatalf("reload = %v, want ErrReloadNoAccount", err)
			}
			logs := p.Logs.String()
			if !strings.Contains(logs, "level=ERROR msg=\"reload rejected; keeping the running config\"") || !strings.Contains(logs, tt.wantLog) {
				t.Errorf("logs lack the rejection and its reason %q:\n%s", tt.wantLog, logs)
			}
			if strings.Contains(logs, "config reloaded") {
				t.Errorf("a rejected reload logged success:\n%s", logs)
			}
			if code, _, body := post(t, p.URL, "after"); code != 200 || !strings.Contains(body, "Hello from a.") {
				t.Fatalf("after a rejected reload: %d\n%s", code, body)
			}
		})
	}
}

func TestReloadWarnsAboutReadableSecrets(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix mode bits")
	}
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	// os.WriteFile keeps an existing file's mode: the rewrite stays 0644.
	if err := os.Chmod(p.path, 0o644); err != nil {
		t.Fatal(err)
	}
	literal := strings.Replace(openaiAccount("a", a, "KEY_A", 1), "${KEY_A}", keyA, 1)
	if err := p.rewrite(t, "accounts:\n"+literal); err != nil {
		t.Fatal(err)
	}
	logs := p.Logs.String()
	if want := "holds secrets (accounts[0].api_key) and is readable by its group and all other users (mode 0644): run chmod 600 " + p.path; !strings.Contains(logs, want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
	assertNoSecrets(t, "proxy logs", logs, keyA)
}
