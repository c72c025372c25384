// Package login signs a ChatGPT account in the way Codex CLI does, so the
// tokens it gets are the ones the ChatGPT backend takes from Codex: the
// browser flow (PKCE, with a callback server on localhost) and the device-code
// flow (a code the user types at {issuer}/codex/device, for machines without
// a browser). Both end with an authorization-code exchange at the issuer's
// token endpoint. It knows nothing of flags or config files: pkg/cmd/accounts/login drives
// it and decides where the tokens go.
package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/codexauth"
)

// Sentinel errors, wrapped with what happened; callers branch on them to
// pick the advice they print.
var (
	// ErrDenied: the user (or the issuer) refused the sign-in.
	ErrDenied = errors.New("sign-in was denied")
	// ErrTimeout: nobody finished the sign-in in time, or the device code
	// expired.
	ErrTimeout = errors.New("sign-in timed out")
	// ErrUnreachable: the issuer could not be reached at all.
	ErrUnreachable = errors.New("cannot reach the sign-in server")
	// ErrDeviceCodeUnsupported: the issuer has no device-code endpoint.
	ErrDeviceCodeUnsupported = errors.New("device-code sign-in is not enabled on this issuer")
	// ErrNotJWT: a token that should be a JWT is not one (three base64url
	// parts with a JSON payload). The proxy reads the account id and the
	// expiry from them, so it cannot use such a login.
	ErrNotJWT = errors.New("not a JWT")
)

// Tokens are what a sign-in yields.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
}

// AccountID is the ChatGPT account the tokens belong to, from the
// id_token's claims; "" when it names none.
func (t Tokens) AccountID() string { return codexauth.AccountIDFromIDToken(t.IDToken) }

// CheckJWTs returns an error wrapping ErrNotJWT when the access token, or
// the id token when there is one, is not a JWT. It names the token, never
// its value.
func CheckJWTs(idToken, accessToken string) error {
	if _, err := codexauth.Claims(accessToken); err != nil {
		return fmt.Errorf("the access token is %w (%v)", ErrNotJWT, err)
	}
	if idToken == "" {
		return nil
	}
	if _, err := codexauth.Claims(idToken); err != nil {
		return fmt.Errorf("the id token is %w (%v)", ErrNotJWT, err)
	}
	return nil
}

// Client signs accounts in at one issuer.
type Client struct {
	// Issuer is the OAuth issuer, like https://auth.openai.com.
	Issuer string
	// TokenURL is the token endpoint; "" is Issuer + "/oauth/token".
	TokenURL string
	// ClientID is the OAuth client the tokens are for (Codex CLI's).
	ClientID string
	// HTTP makes the requests to the issuer; nil is a client with a 30s
	// timeout per request.
	HTTP *http.Client
	// Now is the clock of the device-code deadline; nil is time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends; nil waits for real. Tests inject one
	// that moves their clock, so polling and time-outs cost no real time.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c *Client) issuer() string { return strings.TrimRight(c.Issuer, "/") }

func (c *Client) tokenURL() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return c.issuer() + "/oauth/token"
}

func (c *Client) http() *http.Client {
	hc := &http.Client{Timeout: 30 * time.Second}
	if c.HTTP != nil {
		copied := *c.HTTP
		hc = &copied
	}
	// A redirect is answered as it is, never followed: a 307 would send
	// the authorization code and its verifier, or a device code, on to
	// wherever the Location points.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pkce is an RFC 7636 verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	// 64 random bytes, as Codex: an 86-character verifier.
	v := randomString(64)
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// exchange trades an authorization code for tokens, form-encoded as Codex
// sends it, and checks that the tokens are JWTs.
func (c *Client) exchange(ctx context.Context, code, redirectURI, verifier string) (Tokens, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {c.ClientID},
		"code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return Tokens{}, fmt.Errorf("token exchange: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return Tokens{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		code, msg := issuerError(body)
		if code == "access_denied" {
			return Tokens{}, fmt.Errorf("token exchange: %w: %s", ErrDenied, msg)
		}
		return Tokens{}, fmt.Errorf("token exchange at %s answered %d: %s", c.tokenURL(), resp.StatusCode, msg)
	}
	var t struct {
		IDToken      string `json:"id_token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return Tokens{}, fmt.Errorf("token exchange: the answer is not JSON: %w", err)
	}
	if t.AccessToken == "" || t.RefreshToken == "" || t.IDToken == "" {
		return Tokens{}, errors.New("token exchange: the answer lacks id_token, access_token or refresh_token")
	}
	if err := CheckJWTs(t.IDToken, t.AccessToken); err != nil {
		return Tokens{}, fmt.Errorf("token exchange: %w", err)
	}
	return Tokens(t), nil
}

// do sends req, turning a failure to connect into ErrUnreachable. The
// error names the URL (no secret is in it: codes travel in bodies).
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.http().Do(req)
	if err == nil {
		return resp, nil
	}
	if ctxErr := req.Context().Err(); ctxErr != nil {
		return nil, ctxErr
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return nil, fmt.Errorf("%w %s: %v", ErrUnreachable, req.URL.Redacted(), err)
}

// issuerError reads an error answer in either shape issuers use,
// {"error":"code","error_description":"..."} or
// {"error":{"code":"...","message":"..."}}, and returns its code and a
// short message fit to show.
func issuerError(body []byte) (code, msg string) {
	var flat struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
	}
	if json.Unmarshal(body, &flat) == nil && len(flat.Error) > 0 {
		var s string
		var obj struct {
			Code    string `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(flat.Error, &s) == nil:
			code, msg = s, flat.Description
		case json.Unmarshal(flat.Error, &obj) == nil:
			code, msg = obj.Code, obj.Message
			if code == "" {
				code = obj.Type
			}
		}
	}
	switch {
	case msg == "" && code != "":
		msg = code
	case msg != "" && code != "" && !strings.Contains(msg, code):
		msg = code + ": " + msg
	case msg == "":
		msg = strings.TrimSpace(string(body))
		if msg == "" {
			msg = "(empty answer)"
		}
	}
	return code, clip(msg)
}

// clip keeps a message from the issuer to one short line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
