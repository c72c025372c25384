package login_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/codexauth/codexauthtest"
	"github.com/proxy-dev/proxy/pkg/login"
	"github.com/proxy-dev/proxy/pkg/login/logintest"
)

var start = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func client(f *logintest.Issuer, clock *logintest.Clock) *login.Client {
	c := &login.Client{Issuer: f.URL, ClientID: logintest.ClientID}
	if clock != nil {
		c.Now, c.Sleep = clock.Now, clock.Sleep
	}
	return c
}

func TestDeviceFlow(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*logintest.Issuer)
		timeout   time.Duration
		wantErr   error
		wantInErr string
		wantPolls int
		wantSlept []time.Duration
	}{
		{name: "success", wantPolls: 1},
		{name: "pending then success", setup: func(f *logintest.Issuer) { f.Pending = 2 },
			wantPolls: 3, wantSlept: []time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "denied", setup: func(f *logintest.Issuer) { f.Deny = true },
			wantErr: login.ErrDenied, wantInErr: "The user declined the sign-in", wantPolls: 1},
		{name: "timeout", setup: func(f *logintest.Issuer) { f.Pending = 1000 }, timeout: 12 * time.Second,
			wantErr: login.ErrTimeout, wantInErr: "not entered within 12s",
			wantPolls: 4, wantSlept: []time.Duration{5 * time.Second, 5 * time.Second, 2 * time.Second}},
		{name: "tokens that are not JWTs", setup: func(f *logintest.Issuer) { f.OpaqueTokens = true },
			wantErr: login.ErrNotJWT, wantPolls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := logintest.NewIssuer(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			clock := logintest.NewClock(start)
			c := client(f, clock)
			ctx := context.Background()
			dc, err := c.StartDevice(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if dc.VerificationURL != f.URL+"/codex/device" || dc.UserCode != logintest.UserCode || dc.Interval != 5*time.Second {
				t.Errorf("device code = %+v", dc)
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 15 * time.Minute
			}
			tokens, err := c.PollDevice(ctx, dc, timeout)
			if !errors.Is(err, tt.wantErr) || (err != nil && !strings.Contains(err.Error(), tt.wantInErr)) {
				t.Fatalf("PollDevice error %v, want %v containing %q", err, tt.wantErr, tt.wantInErr)
			}
			if f.Polls() != tt.wantPolls {
				t.Errorf("%d polls, want %d", f.Polls(), tt.wantPolls)
			}
			if got := clock.Slept(); !slices.Equal(got, tt.wantSlept) {
				t.Errorf("slept %v, want %v", got, tt.wantSlept)
			}
			if err != nil {
				if strings.Contains(err.Error(), "rt-fake") || strings.Contains(err.Error(), "opaque-") {
					t.Errorf("error %q shows a token", err)
				}
				return
			}
			if tokens.AccountID() != f.AccountID || tokens.RefreshToken != "rt-fake-1" {
				t.Errorf("tokens for %q with refresh %q", tokens.AccountID(), tokens.RefreshToken)
			}
		})
	}
}

func TestDeviceFlowErrors(t *testing.T) {
	f := logintest.NewIssuer(t)
	f.NoDevice = true
	if _, err := client(f, nil).StartDevice(context.Background()); !errors.Is(err, login.ErrDeviceCodeUnsupported) {
		t.Errorf("StartDevice on an issuer without device codes: %v, want ErrDeviceCodeUnsupported", err)
	}

	// An issuer that is gone: nothing listens on its port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, err = (&login.Client{Issuer: dead, ClientID: logintest.ClientID}).StartDevice(context.Background())
	if !errors.Is(err, login.ErrUnreachable) || !strings.Contains(err.Error(), dead) {
		t.Errorf("StartDevice on a dead issuer: %v, want ErrUnreachable naming %s", err, dead)
	}
}

func TestBrowserFlow(t *testing.T) {
	f := logintest.NewIssuer(t)
	c := client(f, nil)
	b, err := c.StartBrowser([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	callback, err := f.Authorize(b.URL)
	if err != nil {
		t.Fatal(err)
	}

	// A callback with another state is turned away and changes nothing.
	bad, _ := url.Parse(callback)
	q := bad.Query()
	q.Set("state", "forged")
	bad.RawQuery = q.Encode()
	if status, body := get(t, bad.String()); status != http.StatusBadRequest || !strings.Contains(body, "State mismatch") {
		t.Errorf("forged state: %d %q, want 400 State mismatch", status, body)
	}
	if f.Exchanges() != 0 {
		t.Fatalf("a forged callback was exchanged")
	}

	// The right one completes the login.
	if status, body := get(t, callback); status != http.StatusOK || !strings.Contains(body, "Signed in") {
		t.Errorf("callback: %d %q", status, body)
	}
	tokens, err := b.Wait(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tokens.AccountID() != f.AccountID {
		t.Errorf("account %q, want %q", tokens.AccountID(), f.AccountID)
	}
}

func TestBrowserFlowFailures(t *testing.T) {
	tests := []struct {
		name    string
		query   func(callback url.Values) url.Values // nil: no callback at all
		wantErr error
		wantIn  string
	}{
		{name: "denied", query: func(cb url.Values) url.Values {
			return url.Values{"state": cb["state"], "error": {"access_denied"}, "error_description": {"The user cancelled."}}
		}, wantErr: login.ErrDenied, wantIn: "access_denied: The user cancelled."},
		{name: "timeout", wantErr: login.ErrTimeout, wantIn: "within 15m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := logintest.NewIssuer(t)
			// The fake clock's Sleep returns at once: time runs out at once.
			c := client(f, logintest.NewClock(start))
			b, err := c.StartBrowser([]int{0})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if tt.query != nil {
				c.Sleep = nil // wait for real: the callback comes first
				cb, err := f.Authorize(b.URL)
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse(cb)
				u.RawQuery = tt.query(u.Query()).Encode()
				if status, _ := get(t, u.String()); status != http.StatusForbidden {
					t.Errorf("callback status %d, want 403", status)
				}
			}
			_, err = b.Wait(context.Background(), 15*time.Minute)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Wait: %v, want %v containing %q", err, tt.wantErr, tt.wantIn)
			}
		})
	}
}

func TestCheckJWTs(t *testing.T) {
	jwt := codexauthtest.JWT(map[string]any{"sub": "x"})
	tests := []struct {
		name          string
		id, access    string
		wantErr       bool
		wantInMessage string
	}{
		{name: "both JWTs", id: jwt, access: jwt},
		{name: "no id token", access: jwt},
		{name: "opaque access token", id: jwt, access: "sk-opaque", wantErr: true, wantInMessage: "access token"},
		{name: "payload not JSON", id: "a.bm90IGpzb24.c", access: jwt, wantErr: true, wantInMessage: "id token"},
		{name: "four parts", id: jwt, access: jwt + ".x", wantErr: true, wantInMessage: "access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := login.CheckJWTs(tt.id, tt.access)
			if (err != nil) != tt.wantErr || (err != nil && (!errors.Is(err, login.ErrNotJWT) || !strings.Contains(err.Error(), tt.wantInMessage))) {
				t.Fatalf("CheckJWTs = %v, want error %v naming %q", err, tt.wantErr, tt.wantInMessage)
			}
			if err != nil && strings.Contains(err.Error(), "sk-opaque") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIssuerRedirectNotFollowed: an issuer that redirects (a captive
// portal, a hostile network) gets an error, and nothing the sign-in sends
// goes on to where the Location points.
func TestIssuerRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	t.Cleanup(elsewhere.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	_, err := (&login.Client{Issuer: redirecting.URL, ClientID: logintest.ClientID}).StartDevice(context.Background())
	if err == nil {
		t.Fatal("StartDevice succeeded against a redirect")
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the sign-in followed the redirect (%d requests elsewhere)", n)
	}
}
