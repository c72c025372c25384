package probe_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/probe"
)

// noDNS is a client on a machine that resolves no name: every dial fails
// as the resolver would, without the test needing a network.
func noDNS() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		},
	}}
}

// TestDNSAdvice checks that a name that does not resolve is blamed on
// base_url only when the user wrote it: the default ChatGPT host failing
// means the machine has no network or DNS.
func TestDNSAdvice(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.Account
		want    string
		notWant string
	}{
		{
			name: "default ChatGPT base_url",
			cfg:  config.Account{Name: "chatgpt", Type: config.TypeOpenAIResponses, AccessToken: accessToken, AccountID: accountID},
			want: "DNS: cannot resolve chatgpt.com (the default base_url for openai-responses accounts): check the machine's network/DNS", notWant: "base_url's host",
		},
		{
			name: "a base_url the user wrote",
			cfg:  config.Account{Name: "api", Type: config.TypeOpenAI, BaseURL: "https://api.typo.example/v1", APIKey: apiKey},
			want: "DNS: cannot resolve api.typo.example: check base_url's host name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := probe.Check(context.Background(), newAccount(t, tt.cfg), probe.Options{Client: noDNS(), Timeout: 5 * time.Second, Now: fixedNow})
			if r.OK || r.Error != tt.want {
				t.Errorf("error %q, want %q", r.Error, tt.want)
			}
			if tt.notWant != "" && strings.Contains(r.Error, tt.notWant) {
				t.Errorf("error %q blames %q", r.Error, tt.notWant)
			}
		})
	}
}
