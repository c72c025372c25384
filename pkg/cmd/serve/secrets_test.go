package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/redact"
)

// urlPassword is a base_url's password, which no log or banner shows.
const urlPassword = "base-url-pa55word"

// TestNewLoggerRedacts checks both log formats hide the process's secrets,
// including ones added after the logger was built (accounts are built
// after it).
func TestNewLoggerRedacts(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			set := redact.New(nil)
			logger, err := serve.NewLogger(&buf, "info", format, set)
			if err != nil {
				t.Fatal(err)
			}
			set.Replace([]string{urlPassword})
			logger.Warn("upstream said Incorrect API key provided: "+cmdtest.TestAPIKey,
				"target", "http://user:"+urlPassword+"@gw.example/v1/responses", "err", fmt.Errorf("wrapped: %s", urlPassword))
			for i, s := range []string{cmdtest.TestAPIKey, urlPassword} {
				if strings.Contains(buf.String(), s) {
					t.Errorf("log shows secret #%d", i)
				}
			}
			if !strings.Contains(buf.String(), "[redacted]") {
				t.Errorf("nothing masked: %d bytes logged", buf.Len())
			}
		})
	}
}

// TestServeBannerAndLogsHideURLPassword runs `proxy serve` with an account
// whose base_url carries a password: the banner shows the URL without it.
func TestServeBannerAndLogsHideURLPassword(t *testing.T) {
	dir := t.TempDir()
	path := cmdtest.WriteFile(t, dir, "proxy.yaml", fmt.Sprintf(`accounts:
  - {name: api, type: openai, base_url: "http://user:%s@127.0.0.1:9/v1", api_key: "${API_KEY}"}
`, urlPassword), 0o600)
	ios, out, errOut := cmdtest.IO(cmdtest.TestEnv, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- serve.RunServe(ctx, &serve.ServeOptions{IO: ios, ConfigPath: path, Listen: "127.0.0.1:0", LogLevel: "info", LogFormat: "text",
			Ready: func(addr string) { ready <- addr }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	all := out.String() + errOut.String()
	if strings.Contains(all, urlPassword) || strings.Contains(all, cmdtest.TestAPIKey) {
		t.Error("serve output shows a secret")
	}
	if !strings.Contains(all, "account api: openai http://127.0.0.1:9/v1 weight") {
		t.Errorf("banner does not name the account's URL without user info:\n%s", cmdtest.Stable(all, dir))
	}
}
