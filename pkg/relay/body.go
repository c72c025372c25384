package relay

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// errBodyTooLarge is returned by readBody when the decoded body passes the limit.
var errBodyTooLarge = errors.New("request body too large")

// errEncoding marks a body whose Content-Encoding is unknown or corrupt.
var errEncoding = errors.New("bad content encoding")

// readBody reads the whole request body once, decoding gzip or zstd (Codex
// sends zstd with ChatGPT login), and refuses more than limit decoded bytes.
// The bytes are kept so every upstream attempt replays them unchanged.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	var src io.Reader = r.Body
	size := r.ContentLength
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", errEncoding, err)
		}
		defer gz.Close()
		src, size = gz, -1
	case "zstd":
		zr, err := zstd.NewReader(r.Body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)+1))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", errEncoding, err)
		}
		defer zr.Close()
		src, size = zr, -1
	default:
		return nil, fmt.Errorf("%w: %q is not supported (use gzip, zstd or none)", errEncoding, enc)
	}
	if size > limit {
		return nil, errBodyTooLarge
	}
	if size >= 0 {
		// The common case: one allocation of the exact size.
		buf := make([]byte, size)
		if _, err := io.ReadFull(src, buf); err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(src, limit+1))
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		// The frame itself says it decodes to more than the limit.
		return nil, errBodyTooLarge
	}
	if err != nil {
		if size < 0 && r.Header.Get("Content-Encoding") != "" {
			return nil, fmt.Errorf("%w: %v", errEncoding, err)
		}
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if int64(len(buf)) > limit {
		return nil, errBodyTooLarge
	}
	return buf, nil
}
