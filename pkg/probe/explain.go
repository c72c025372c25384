package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/redact"
)

// describeNetError puts a request that got no answer in words. Go's own
// messages name the cause deep in a chain ("dial tcp ...: connect:
// connection refused"); the user needs the cause first and what to check.
func describeNetError(err error, timeout time.Duration) string {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		recordHeader     tls.RecordHeaderError
		dnsErr           *net.DNSError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s waiting for the response headers (raise --timeout, or is the host up?)", timeout)
	case viaProxy(err) && errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at " + host(err) + "; check proxy_url's host and port"
	case viaProxy(err) && (strings.Contains(err.Error(), "authentication failed") || strings.Contains(err.Error(), "Proxy Authentication Required")):
		return "the proxy refused the user name and password in proxy_url"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at " + host(err) + "; check base_url's host and port"
	case errors.As(err, &unknownAuthority):
		return "TLS: certificate signed by unknown authority: the server's certificate is not trusted here (a private CA? add it to the system trust store or SSL_CERT_FILE)"
	case errors.As(err, &hostname):
		return "TLS: the certificate is not valid for " + hostname.Host + ": check base_url's host name"
	case errors.As(err, &invalid):
		return "TLS: invalid certificate: " + invalid.Error()
	// net/http replaces the RecordHeaderError with a message of its own.
	case errors.As(err, &recordHeader), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "TLS: the server does not speak TLS: use http:// in base_url"
	case errors.As(err, &dnsErr) && dnsErr.Name == defaultChatGPTHost:
		// A name everyone resolves: the fault is this machine's network,
		// not a setting the user may never have written.
		return "DNS: cannot resolve " + dnsErr.Name + " (the default base_url for openai-responses accounts): check the machine's network/DNS"
	case errors.As(err, &dnsErr):
		return "DNS: cannot resolve " + dnsErr.Name + ": check base_url's host name"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server or a proxy in between"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "no answer: " + err.Error()
}

// defaultChatGPTHost is the host of config.DefaultChatGPTBaseURL.
var defaultChatGPTHost = func() string {
	u, _ := url.Parse(config.DefaultChatGPTBaseURL)
	return u.Hostname()
}()

// host names the address of a refused dial: the innermost one, since a
// dial through a proxy wraps the dial to the proxy in an error naming the
// target.
func host(err error) string {
	addr := "that address"
	for e := err; e != nil; e = errors.Unwrap(e) {
		if op, ok := e.(*net.OpError); ok && op.Addr != nil {
			addr = op.Addr.String()
		}
	}
	return addr
}

// viaProxy reports whether err is the failure of a dial through an
// account's proxy_url (an HTTP proxy's "proxyconnect", a SOCKS5 "socks
// connect"), so the fix named is proxy_url's, not base_url's.
func viaProxy(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if op, ok := e.(*net.OpError); ok && (op.Op == "proxyconnect" || strings.HasPrefix(op.Op, "socks")) {
			return true
		}
	}
	return false
}

// describeStatus puts an error reply in words. A 404 is checked once more
// with /v1 added, since a base URL that lacks it is the usual mistake with
// OpenAI-compatible APIs. refreshed says the token refused was just
// renewed, so the login itself is refused.
func describeStatus(ctx context.Context, o Options, a *account.Account, model string, resp *http.Response, body []byte, out health.Outcome, refreshed bool) string {
	status := resp.StatusCode
	msg := upstreamMessage(body)
	switch {
	case status >= 300 && status < 400:
		return fmt.Sprintf("%d redirect to %s: set base_url to where it points (the proxy does not follow redirects)", status, redact.URL(resp.Header.Get("Location")))
	case out.Class == health.Unauthorized && a.Type == account.OpenAIResponses && refreshed:
		return withUpstream(fmt.Sprintf("%d ChatGPT login refused even with a renewed access token: %s", status, account.LoginHelp(a.Name)), msg)
	case out.Class == health.Unauthorized && a.NeedsLogin(o.Now()):
		return withUpstream(fmt.Sprintf("%d ChatGPT login refused: the access token has expired and there is no refresh token; %s", status, account.LoginHelp(a.Name)), msg)
	case out.Class == health.Unauthorized && a.Type == account.OpenAIResponses:
		return withUpstream(fmt.Sprintf("%d ChatGPT login refused: %s", status, account.LoginHelp(a.Name)), msg)
	case status == http.StatusUnauthorized:
		return withUpstream("401 invalid api key: fix api_key in the config", msg)
	case status == http.StatusForbidden:
		return withUpstream("403 forbidden: the key may not use this model or endpoint", msg)
	case status == http.StatusNotFound && out.Code == "model_not_found":
		return withUpstream(fmt.Sprintf("404 model %s not found: pass --model or set the account's models", model), msg)
	case status == http.StatusNotFound:
		return "404 " + apiPath(a) + " not served at this base_url" + suggestBase(ctx, o, a, model)
	case out.Class == health.Quota:
		what := "usage limit"
		if out.Code != "usage_limit_reached" {
			what = out.Code
		}
		return fmt.Sprintf("429 %s, %s", what, resets(out.Until, o))
	case out.Class == health.RateLimit:
		s := "429 rate limited"
		if !out.Until.IsZero() {
			s += fmt.Sprintf(", retry in %s", out.Until.Sub(o.Now()).Round(time.Second))
		}
		return withUpstream(s, msg)
	case status >= 500:
		return withUpstream(fmt.Sprintf("%d upstream server error: try again later", status), msg)
	}
	return withUpstream(fmt.Sprintf("%d %s", status, http.StatusText(status)), msg)
}

// refreshFailed fills r for a ChatGPT token refresh that failed. A refresh
// token the endpoint refused for good is a dead login, with the way to log
// in again; any other failure (the endpoint unreachable, the check's time
// up) says nothing of the login, and the result says so.
func refreshFailed(ctx context.Context, o Options, a *account.Account, r *Result, err error) {
	what := "access token expired"
	if r.Status != 0 {
		what = fmt.Sprintf("%d ChatGPT login refused", r.Status)
	}
	// The refresher's errors start with the account, which the result
	// already names.
	cause := strings.TrimPrefix(err.Error(), "account "+a.Name+": ")
	if errors.Is(err, account.ErrLoginExpired) {
		if !strings.Contains(cause, account.LoginHelp(a.Name)) {
			cause += "; " + account.LoginHelp(a.Name)
		}
		r.Error = what + "; " + cause
		r.Outcome = health.Outcome{Class: health.Unauthorized, Status: r.Status, Message: r.Error}
		return
	}
	cause = strings.TrimPrefix(cause, "token refresh: ")
	if ctx.Err() != nil {
		cause = fmt.Sprintf("timed out after %s (raise --timeout?)", o.Timeout)
	}
	r.Error = what + "; could not renew the token, the token endpoint failed (" + cause +
		"): the login may still be good; check oauth.token_url and try again"
	r.Outcome = health.Outcome{Class: health.Network, Status: r.Status, Message: r.Error}
}

// suggestBase says what a 404 of the account's API may mean: a Responses
// account whose base URL serves only Chat Completions wants api:
// chat_completions; else base_url + "/v1" is tried and named when it
// serves the account's API.
func suggestBase(ctx context.Context, o Options, a *account.Account, model string) string {
	if !a.ChatCompletions() {
		chat := *a
		chat.API = config.APIChatCompletions
		if resp, err := send(ctx, o.egress.Client(a), &chat, a.BaseURL, model); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ": it serves only /chat/completions; set api: chat_completions on the account"
			}
		}
	}
	return suggestV1(ctx, o, a, model)
}

// suggestV1 tries base_url + "/v1" and names it when it serves the
// account's API.
func suggestV1(ctx context.Context, o Options, a *account.Account, model string) string {
	if strings.HasSuffix(a.BaseURL, "/v1") {
		return ": check base_url"
	}
	resp, err := send(ctx, o.egress.Client(a), a, a.BaseURL+"/v1", model)
	if err != nil {
		return ": check base_url"
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ": check base_url"
	}
	// Shown without the base URL's user info.
	return " (did you mean " + a.DisplayURL() + "/v1?)"
}

// resets says when a usage limit ends: the time alone when it is today.
func resets(at time.Time, o Options) string {
	if at.IsZero() {
		return "no reset time given"
	}
	return "resets " + when(at, o.Now(), o.Location)
}

// when formats t briefly relative to now: "22:10" today, else "Jan 2 22:10".
func when(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

// upstreamMessage is the error message of an OpenAI-shaped body, else the
// start of the body.
func upstreamMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func withUpstream(s, msg string) string {
	if msg == "" {
		return s
	}
	return s + " (upstream: " + msg + ")"
}

// limitsOf reads the x-codex-* rate-limit windows ChatGPT accounts report;
// nil when the reply has none.
func limitsOf(h http.Header, now time.Time) *health.Limits {
	if l, ok := health.ParseLimits(h, now); ok {
		return &l
	}
	return nil
}

// FormatLimits shows rate-limit windows briefly, like
// "5h 10% resets 22:10, 7d 5% resets Jan 9 22:10"; "" for none.
func FormatLimits(l *health.Limits, now time.Time, loc *time.Location) string {
	if l == nil {
		return ""
	}
	var parts []string
	for _, w := range []*health.Window{l.Primary, l.Secondary} {
		if w == nil {
			continue
		}
		s := strconv.FormatFloat(w.UsedPercent, 'f', -1, 64) + "%"
		if w.WindowMinutes > 0 {
			s = span(w.WindowMinutes) + " " + s
		}
		if !w.ResetsAt.IsZero() {
			s += " resets " + when(w.ResetsAt, now, loc)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// span names a window length the way plans do: 5h, 7d.
func span(minutes int) string {
	switch {
	case minutes%(24*60) == 0:
		return strconv.Itoa(minutes/(24*60)) + "d"
	case minutes%60 == 0:
		return strconv.Itoa(minutes/60) + "h"
	}
	return strconv.Itoa(minutes) + "m"
}
