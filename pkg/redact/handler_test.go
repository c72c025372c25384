package redact_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/redact"
)

// credentialStringer is a value whose text shows a credential.
type credentialStringer struct{ token string }

func (c credentialStringer) String() string { return "creds(" + c.token + ")" }

// lazy is a LogValuer, resolved only when the record is handled.
type lazy string

func (l lazy) LogValue() slog.Value { return slog.StringValue(string(l)) }

func TestHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // a substring of the output, after the secret is masked
	}{
		{"message", func(l *slog.Logger) { l.Info("refused: " + pass) }, "refused: [redacted]"},
		{"string attr", func(l *slog.Logger) { l.Info("m", "target", "http://u:"+pass+"@h/v1/responses") }, "http://u:[redacted]@h/v1/responses"},
		{"error attr", func(l *slog.Logger) { l.Warn("m", "err", fmt.Errorf("upstream: %s", apiKey)) }, "upstream: [redacted]"},
		{"wrapped error attr", func(l *slog.Logger) {
			l.Warn("m", "err", fmt.Errorf("ctx: %w", errors.New("Incorrect API key provided: "+projKey)))
		}, "Incorrect API key provided: [redacted]"},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("up", "body", `{"message":"`+jwt+`"}`)) }, "[redacted]"},
		{"group keeps its other attrs", func(l *slog.Logger) {
			l.Info("m", slog.Group("up", "status", "401", "body", "bad key "+apiKey))
		}, "up.status=401"},
		{"nested group", func(l *slog.Logger) {
			l.Info("m", slog.Group("a", slog.Group("b", slog.String("c", opaque))))
		}, "[redacted]"},
		{"with attrs", func(l *slog.Logger) { l.With("key", apiKey).Info("m") }, "key=[redacted]"},
		{"with group then attrs", func(l *slog.Logger) { l.WithGroup("g").With("pw", pass).Info("m", "x", pass) }, "g.pw=[redacted]"},
		{"stringer", func(l *slog.Logger) { l.Info("m", "c", credentialStringer{opaque}) }, "creds([redacted])"},
		{"bytes", func(l *slog.Logger) { l.Info("m", "body", []byte("key "+apiKey)) }, "key [redacted]"},
		{"log valuer", func(l *slog.Logger) { l.Info("m", "v", lazy(pass)) }, "v=[redacted]"},
		{"no secret", func(l *slog.Logger) { l.Info("fine", "n", 3, "s", "plain") }, "s=plain"},
	}
	secrets := []string{pass, opaque, apiKey}
	for _, tt := range tests {
		for _, format := range []string{"text", "json"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				var next slog.Handler = slog.NewTextHandler(&buf, nil)
				want := tt.want
				if format == "json" {
					next = slog.NewJSONHandler(&buf, nil)
					want = jsonForm(want)
				}
				tt.log(slog.New(redact.NewHandler(next, redact.New(secrets))))
				out := buf.String()
				for _, s := range append(secrets, projKey, jwt) {
					if strings.Contains(out, s) {
						t.Errorf("output shows a secret: %s", out)
					}
				}
				if !strings.Contains(out, want) {
					t.Errorf("output %q lacks %q", out, want)
				}
			})
		}
	}
}

// jsonForm turns a text-handler expectation into the JSON handler's.
func jsonForm(s string) string {
	if k, v, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(k, " :/") {
		if g, kk, ok := strings.Cut(k, "."); ok {
			return `"` + g + `":{"` + kk + `":"` + v + `"`
		}
		return `"` + k + `":"` + v + `"`
	}
	return s
}

// TestHandlerKeepsValues checks values without a secret pass through as
// they were, so the JSON handler still encodes them natively.
func TestHandlerKeepsValues(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, nil), redact.New([]string{pass})))
	l.Info("m", "list", []string{"a", "b"}, "n", 7)
	if out := buf.String(); !strings.Contains(out, `"list":["a","b"]`) || !strings.Contains(out, `"n":7`) {
		t.Errorf("values changed: %s", out)
	}
}

// TestHandlerFollowsReplace checks that records logged after Replace use
// the new secrets.
func TestHandlerFollowsReplace(t *testing.T) {
	var buf bytes.Buffer
	set := redact.New(nil)
	l := slog.New(redact.NewHandler(slog.NewTextHandler(&buf, nil), set))
	set.Replace([]string{pass})
	l.Info("m", "pw", pass)
	if strings.Contains(buf.String(), pass) {
		t.Errorf("a secret added by Replace was logged: %s", buf.String())
	}
}

func TestHandlerEnabled(t *testing.T) {
	h := redact.NewHandler(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}), nil)
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled does not follow the next handler")
	}
}
