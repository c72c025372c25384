package probe_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/probe"
)

// TestCheckHidesSecrets checks that nothing `proxy accounts test` shows
// carries a credential: not a key the upstream quotes back, not a password
// in base_url.
func TestCheckHidesSecrets(t *testing.T) {
	const (
		refusedKey = "sk-refused-0123456789abcdef"
		password   = "base-url-pa55word"
		opaque     = "opaque-key-not-shaped-1"
	)
	tests := []struct {
		name      string
		setup     func(t *testing.T) *account.Account
		wantError string // substring
		secrets   []string
	}{
		{
			name: "upstream quotes the refused key",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKeyEcho(apiKey))
				return apiAccount(t, startFake(t, f).URL+"/v1", refusedKey)
			},
			wantError: "(upstream: Incorrect API key provided: [redacted].",
			secrets:   []string{refusedKey},
		},
		{
			name: "upstream quotes a key of no known shape",
			setup: func(t *testing.T) *account.Account {
				f := fakeupstream.New("api", fakeupstream.WithAPIKeyEcho(apiKey))
				return apiAccount(t, startFake(t, f).URL+"/v1", opaque)
			},
			wantError: "Incorrect API key provided: [redacted].",
			secrets:   []string{opaque},
		},
		{
			name: "password in base_url, /v1 suggested",
			setup: func(t *testing.T) *account.Account {
				mux := http.NewServeMux()
				mux.Handle("/v1/", fakeupstream.New("api", fakeupstream.WithAPIKey(apiKey)))
				url := strings.Replace(startFake(t, mux).URL, "http://", "http://user:"+password+"@", 1)
				return apiAccount(t, url, apiKey)
			},
			wantError: "(did you mean http://127.0.0.1:",
			secrets:   []string{password, "user:"},
		},
		{
			name: "password in base_url, upstream quotes the request",
			setup: func(t *testing.T) *account.Account {
				s := startFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, `{"error":{"message":"bad auth `+r.Header.Get("Authorization")+` for `+password+`"}}`, http.StatusForbidden)
				}))
				url := strings.Replace(s.URL, "http://", "http://user:"+password+"@", 1)
				return apiAccount(t, url+"/v1", apiKey)
			},
			wantError: "403 forbidden",
			secrets:   []string{password, apiKey},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := probe.Check(context.Background(), tt.setup(t), probe.Options{Now: fixedNow})
			if r.OK || !strings.Contains(r.Error, tt.wantError) {
				t.Errorf("Error = %q, want it to contain %q", r.Error, tt.wantError)
			}
			js, _ := json.Marshal(r)
			shown := r.Error + r.Outcome.Message + string(js)
			for i, s := range tt.secrets {
				if strings.Contains(shown, s) {
					t.Errorf("the result shows secret #%d", i)
				}
			}
		})
	}
}

// TestFailedHidesShapedSecrets checks an account that cannot be built: its
// secrets are unknown, so shapes are what is left to hide.
func TestFailedHidesShapedSecrets(t *testing.T) {
	_, err := account.New(config.Account{Name: "x", Type: "bogus"})
	r := probe.Failed("x", "openai", errWith("auth file quotes sk-leaked0123456789abcdef: "+err.Error()))
	if strings.Contains(r.Error+r.Outcome.Message, "sk-leaked") {
		t.Errorf("Failed shows a key: %q", r.Error)
	}
}

type errWith string

func (e errWith) Error() string { return string(e) }
