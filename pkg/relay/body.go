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

// errBodyBudget means the process already holds as many request bodies as
// its budget allows.
var errBodyBudget = errors.New("request body budget exhausted")

// maxZstdWindow bounds the window a zstd body may ask the decoder to
// allocate. Codex compresses at a default level (a window of a few MiB);
// a frame asking for more is refused rather than trusted.
const maxZstdWindow = 8 << 20

// readChunk is how much a body of unknown length grows by at a time; each
// step is reserved in the budget before it is allocated.
const readChunk = 256 << 10

// readBody reads the whole request body once, decoding gzip or zstd (Codex
// sends zstd with ChatGPT login), and refuses more than limit decoded bytes.
// The bytes are kept so every upstream attempt replays them unchanged. The
// memory held is reserved in budget; the caller gives back held bytes when
// it lets go of the body.
func readBody(r *http.Request, limit int64, budget *Budget) (body []byte, held int64, err error) {
	var src io.Reader = r.Body
	size := r.ContentLength
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: gzip: %v", errEncoding, err)
		}
		defer gz.Close()
		src, size = gz, -1
	case "zstd":
		zr, err := zstd.NewReader(r.Body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(limit)+1), zstd.WithDecoderMaxWindow(uint64(min(limit+1, maxZstdWindow))))
		if err != nil {
			return nil, 0, fmt.Errorf("%w: zstd: %v", errEncoding, err)
		}
		defer zr.Close()
		src, size = zr, -1
	default:
		return nil, 0, fmt.Errorf("%w: %q is not supported (use gzip, zstd or none)", errEncoding, enc)
	}
	if size > limit {
		return nil, 0, errBodyTooLarge
	}
	if size >= 0 {
		// The common case: one allocation of the exact size.
		if !budget.take(size) {
			return nil, 0, errBodyBudget
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(src, buf); err != nil {
			budget.give(size)
			return nil, 0, fmt.Errorf("reading request body: %w", err)
		}
		return buf, size, nil
	}
	buf, held, err := readAllBudget(src, limit, budget)
	if err != nil {
		budget.give(held)
		switch {
		case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
			// The frame itself says it decodes to more than the limit.
			return nil, 0, errBodyTooLarge
		case errors.Is(err, errBodyTooLarge), errors.Is(err, errBodyBudget):
			return nil, 0, err
		case r.Header.Get("Content-Encoding") != "":
			return nil, 0, fmt.Errorf("%w: %v", errEncoding, err)
		}
		return nil, 0, fmt.Errorf("reading request body: %w", err)
	}
	return buf, held, nil
}

// readAllBudget reads src to its end, growing the buffer a chunk at a time
// and reserving each chunk in budget first. It returns what it reserved,
// even on error.
func readAllBudget(src io.Reader, limit int64, budget *Budget) ([]byte, int64, error) {
	var (
		buf  []byte
		held int64
	)
	for {
		if len(buf) == cap(buf) {
			grow := int64(min(max(cap(buf), readChunk), int(limit+1)-cap(buf)))
			if grow <= 0 {
				return nil, held, errBodyTooLarge
			}
			if !budget.take(grow) {
				return nil, held, errBodyBudget
			}
			held += grow
			nb := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(nb, buf)
			buf = nb
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, held, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			return nil, held, err
		}
	}
}
