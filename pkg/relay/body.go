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
		// The decoder's window is memory too: reserve it like the body.
		if !budget.take(maxZstdWindow) {
			return nil, 0, errBodyBudget
		}
		defer budget.give(maxZstdWindow)
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

// readAllBudget reads src to its end in chunks, reserving each in budget
// before it is allocated, then joins them into one slice of the exact size.
// Chunks rather than a doubling buffer: a doubling buffer leaves garbage
// the budget cannot see, many times the body, until the next collection.
// It returns what stays reserved (the joined body), even on error.
func readAllBudget(src io.Reader, limit int64, budget *Budget) ([]byte, int64, error) {
	var (
		chunks [][]byte
		held   int64 // reserved for the chunks
		total  int64
	)
	defer func() { budget.give(held) }()
	for {
		if len(chunks) == 0 || len(chunks[len(chunks)-1]) == cap(chunks[len(chunks)-1]) {
			if total > limit {
				return nil, 0, errBodyTooLarge
			}
			if !budget.take(readChunk) {
				return nil, 0, errBodyBudget
			}
			held += readChunk
			chunks = append(chunks, make([]byte, 0, readChunk))
		}
		c := chunks[len(chunks)-1]
		n, err := src.Read(c[len(c):cap(c)])
		chunks[len(chunks)-1] = c[:len(c)+n]
		total += int64(n)
		if total > limit {
			return nil, 0, errBodyTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if !budget.take(total) {
		return nil, 0, errBodyBudget
	}
	body := make([]byte, 0, total)
	for _, c := range chunks {
		body = append(body, c...)
	}
	return body, total, nil
}
