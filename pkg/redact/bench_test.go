package redact_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
