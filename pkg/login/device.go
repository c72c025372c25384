package login

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultPollInterval is the wait between device-code polls when the issuer
// names none (Codex would then poll without pause).
const DefaultPollInterval = 5 * time.Second

// DeviceCode is a started device-code sign-in: the user opens
// VerificationURL and types UserCode while PollDevice waits.
type DeviceCode struct {
	// VerificationURL is where the user types the code.
	VerificationURL string
	// UserCode is the one-time code to type there. It is not a secret to
	// the user, but it is a phishing target: show it, never log it.
	UserCode string
	// Interval is the wait between polls the issuer asked for.
	Interval time.Duration

	deviceAuthID string
}

// StartDevice asks the issuer for a user code.
func (c *Client) StartDevice(ctx context.Context) (*DeviceCode, error) {
	var uc struct {
		DeviceAuthID string `json:"device_auth_id"`
		UserCode     string `json:"user_code"`
		UserCodeAlt  string `json:"usercode"`
		// The issuer sends the interval as a string of seconds; a number
		// is taken too.
		Interval json.RawMessage `json:"interval"`
	}
	status, body, err := c.postJSON(ctx, c.issuer()+"/api/accounts/deviceauth/usercode", map[string]string{"client_id": c.ClientID})
	if err != nil {
		return nil, fmt.Errorf("requesting a device code: %w", err)
	}
	switch {
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("%w (%s answered 404)", ErrDeviceCodeUnsupported, c.issuer())
	case status/100 != 2:
		_, msg := issuerError(body)
		return nil, fmt.Errorf("requesting a device code: %s answered %d: %s", c.issuer(), status, msg)
	}
	if err := json.Unmarshal(body, &uc); err != nil {
		return nil, fmt.Errorf("requesting a device code: the answer is not JSON: %w", err)
	}
	if uc.UserCode == "" {
		uc.UserCode = uc.UserCodeAlt
	}
	if uc.DeviceAuthID == "" || uc.UserCode == "" {
		return nil, errors.New("requesting a device code: the answer lacks device_auth_id or user_code")
	}
	return &DeviceCode{
		VerificationURL: c.issuer() + "/codex/device",
		UserCode:        uc.UserCode,
		Interval:        parseInterval(uc.Interval),
		deviceAuthID:    uc.DeviceAuthID,
	}, nil
}

// parseInterval reads "5" or 5; anything else, or no positive value, is
// DefaultPollInterval.
func parseInterval(raw json.RawMessage) time.Duration {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n <= 0 {
		return DefaultPollInterval
	}
	return time.Duration(n * float64(time.Second))
}

// PollDevice waits for the user to enter the code, polling at the issuer's
// interval, then exchanges the authorization code for tokens. It gives up
// with ErrTimeout once timeout has passed on the client's clock (the device
// code's life: 15 minutes at OpenAI), and with ErrDenied when the issuer
// answers that the user refused.
func (c *Client) PollDevice(ctx context.Context, dc *DeviceCode, timeout time.Duration) (Tokens, error) {
	deadline := c.now().Add(timeout)
	interval := dc.Interval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	url := c.issuer() + "/api/accounts/deviceauth/token"
	for {
		status, body, err := c.postJSON(ctx, url, map[string]string{"device_auth_id": dc.deviceAuthID, "user_code": dc.UserCode})
		if err != nil {
			return Tokens{}, c.ctxErr(ctx, fmt.Errorf("waiting for the device code: %w", err))
		}
		pending := status == http.StatusForbidden || status == http.StatusNotFound
		if status/100 == 2 {
			return c.finishDevice(ctx, body)
		}
		if !pending {
			// RFC 8628 words, for issuers that use them.
			code, msg := issuerError(body)
			switch code {
			case "authorization_pending":
				pending = true
			case "slow_down":
				interval += 5 * time.Second
				pending = true
			case "access_denied", "authorization_declined", "denied":
				return Tokens{}, fmt.Errorf("%w: %s", ErrDenied, msg)
			case "expired_token":
				return Tokens{}, fmt.Errorf("%w: the device code expired", ErrTimeout)
			default:
				return Tokens{}, fmt.Errorf("waiting for the device code: %s answered %d: %s", c.issuer(), status, msg)
			}
		}
		left := deadline.Sub(c.now())
		if left <= 0 {
			return Tokens{}, fmt.Errorf("%w: the code was not entered within %s", ErrTimeout, timeout)
		}
		if err := c.sleep(ctx, min(interval, left)); err != nil {
			return Tokens{}, c.ctxErr(ctx, err)
		}
	}
}

// ctxErr turns the end of ctx by its deadline into ErrTimeout.
func (c *Client) ctxErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

func (c *Client) finishDevice(ctx context.Context, body []byte) (Tokens, error) {
	var r struct {
		AuthorizationCode string `json:"authorization_code"`
		CodeChallenge     string `json:"code_challenge"`
		CodeVerifier      string `json:"code_verifier"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Tokens{}, fmt.Errorf("waiting for the device code: the answer is not JSON: %w", err)
	}
	if r.AuthorizationCode == "" || r.CodeVerifier == "" {
		return Tokens{}, errors.New("waiting for the device code: the answer lacks authorization_code or code_verifier")
	}
	return c.exchange(ctx, r.AuthorizationCode, c.issuer()+"/deviceauth/callback", r.CodeVerifier)
}

// postJSON posts v as JSON and returns the status and up to 1 MiB of body.
func (c *Client) postJSON(ctx context.Context, url string, v any) (int, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer of %s: %w", url, err)
	}
	return resp.StatusCode, body, nil
}
