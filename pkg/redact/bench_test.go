package redact_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/redact"
)

// BenchmarkHandlerRequestLine is one request log line (the relay's ~20
// attributes) through a handler holding 30 secrets.
func BenchmarkHandlerRequestLine(b *testing.B) {
	var secrets []string
	for i := range 30 {
		secrets = append(secrets, fmt.Sprintf("secret-value-%02d-0123456789", i))
	}
	l := slog.New(redact.NewHandler(slog.NewTextHandler(io.Discard, nil), redact.New(secrets)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", "req_0123456789abcdef"), slog.String("path", "/v1/responses"),
			slog.String("account", "chatgpt-main"), slog.String("target", "https://chatgpt.com/backend-api/codex/responses"),
			slog.String("reason", "sticky"), slog.String("session", "3f2a9c1b"), slog.String("source", "header"),
			slog.String("model", "gpt-5-codex"), slog.Int("status", 200), slog.Int("attempts", 1),
			slog.Duration("ttfb", time.Millisecond), slog.Duration("duration", time.Second),
			slog.Int64("input_tokens", 1200), slog.Int64("output_tokens", 300), slog.String("client", "laptop"))
	}
}

// BenchmarkBytesErrorBody is an upstream error body with nothing to hide.
func BenchmarkBytesErrorBody(b *testing.B) {
	var secrets []string
	for i := range 30 {
		secrets = append(secrets, fmt.Sprintf("secret-value-%02d-0123456789", i))
	}
	set := redact.New(secrets)
	body := []byte(`{"error":{"message":"Rate limit reached for gpt-5 in organization org-abc on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`)
	b.ReportAllocs()
	for b.Loop() {
		set.Bytes(body)
	}
}

// Typical upstream events: a text delta as the ChatGPT backend sends it,
// and a 64 KiB response.completed (its output text and an encrypted
// reasoning item, base64url as minted).
var (
	deltaEvent = []byte("event: response.output_text.delta\ndata: " +
		`{"type":"response.output_text.delta","sequence_number":42,"item_id":"msg_0a1b2c3d4e5f60718293a4b5c6d7e8f9","output_index":1,"content_index":0,"delta":" the","logprobs":[],"obfuscation":"Zk3qPxRt"}` + "\n\n")
	completedEvent = completed64K()
)

func completed64K() []byte {
	blob := make([]byte, 0, 40<<10)
	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	x := uint32(2463534242)
	for len(blob) < cap(blob) {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		blob = append(blob, b64url[x%64])
	}
	words := strings.Repeat("Here is the change: the handler now checks the key before it reads the body, and the test covers it. ", 240)
	ev := "event: response.completed\ndata: " +
		`{"type":"response.completed","sequence_number":900,"response":{"id":"resp_0123","object":"response","status":"completed","model":"gpt-5-codex","output":[` +
		`{"id":"rs_0123","type":"reasoning","summary":[],"encrypted_content":"gAAAAAB` + string(blob) + `"},` +
		`{"id":"msg_0123","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"` + words + `"}]}],` +
		`"usage":{"input_tokens":12000,"input_tokens_details":{"cached_tokens":11000},"output_tokens":900,"output_tokens_details":{"reasoning_tokens":300},"total_tokens":12900}}}` + "\n\n"
	return []byte(ev[:min(len(ev), 64<<10)])
}

// heldSecrets is n secrets as a running proxy holds them: API keys, JWT
// access tokens that share their header, refresh tokens, client keys.
func heldSecrets(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		switch i % 4 {
		case 0:
			out = append(out, fmt.Sprintf("sk-proj-%04dAbCdEfGhIjKlMnOpQrStUvWxYz0123456789", i))
		case 1:
			out = append(out, fmt.Sprintf("eyJhbGciOiJSUzI1NiIsImtpZCI6IjE5MzQ0ZTY1In0.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJl%04dLWJ5dGVz", i))
		case 2:
			out = append(out, fmt.Sprintf("rt_%04d.opaque-refresh-token-value-0123456789", i))
		default:
			out = append(out, fmt.Sprintf("client-key-%04d-laptop-0123456789", i))
		}
	}
	return out
}

// BenchmarkAnswer is the cost of redacting one successful event that
// holds nothing to hide, the common case: per event, with 0, 10 and 100
// secrets held.
func BenchmarkAnswer(b *testing.B) {
	for _, ev := range []struct {
		name string
		data []byte
	}{{"delta", deltaEvent}, {"completed-64KiB", completedEvent}} {
		for _, n := range []int{0, 10, 100} {
			set := redact.New(heldSecrets(n))
			b.Run(fmt.Sprintf("%s/secrets=%d", ev.name, n), func(b *testing.B) {
				b.SetBytes(int64(len(ev.data)))
				b.ReportAllocs()
				for b.Loop() {
					set.Answer(ev.data)
				}
			})
		}
	}
}
