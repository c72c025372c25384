package relay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
)

// errFrameTooBig means a client frame announced a message larger than the
// read limit; the connection is closed with 1009 before its payload is
// read.
var errFrameTooBig = errors.New("frame announces a message larger than the limit")

// guardedWriter hands the WebSocket library a connection whose client
// frames are measured at their header. The library's own read limit is
// only met once that many payload bytes have arrived, so a frame claiming
// a gigabyte would hold the connection until the client sent them (or
// for ever); the guard refuses it as soon as its length is read.
type guardedWriter struct {
	http.ResponseWriter
	limit int64
}

// Hijack wraps the hijacked connection's reads, bytes the server had
// already buffered included.
func (g guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := g.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be taken over for a WebSocket")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	fg := &frameGuard{Conn: c, r: brw.Reader, limit: g.limit}
	return fg, bufio.NewReadWriter(bufio.NewReader(fg), brw.Writer), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (g guardedWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// frameGuard follows the client's frames through the byte stream (RFC
// 6455 §5.2) and fails the read that would hand the library the header of
// a frame whose message would pass limit. What comes before that header
// is passed on first.
type frameGuard struct {
	net.Conn
	r     io.Reader
	limit int64
	err   error // once tripped, every read fails with it

	hdr  [14]byte // the frame header being read
	hlen int      // bytes of it read
	skip uint64   // payload bytes left of the current frame
	msg  uint64   // announced bytes of the current message
	flat bool     // the current message is compressed (RSV1)
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if i, ok := g.scan(p[:n]); !ok {
		g.err = fmt.Errorf("%w (%d bytes)", errFrameTooBig, g.limit)
		if i == 0 {
			return 0, g.err
		}
		return i, nil
	}
	return n, err
}

// scan follows b through the frames; on a frame too large it returns
// where that frame's header began in b (0 when it began earlier) and false.
func (g *frameGuard) scan(b []byte) (int, bool) {
	for i := 0; i < len(b); {
		if g.skip > 0 {
			n := min(g.skip, uint64(len(b)-i))
			g.skip -= n
			i += int(n)
			continue
		}
		start := i - g.hlen
		g.hdr[g.hlen] = b[i]
		g.hlen++
		i++
		length, done := g.header()
		if !done {
			continue
		}
		g.hlen = 0
		switch op := g.hdr[0] & 0x0f; {
		case op >= 8: // control frames are bounded by the library
		case op == 0:
			if length > g.allowed()-g.msg { // g.msg never passes allowed
				return max(start, 0), false
			}
			g.msg += length
		default:
			g.msg, g.flat = length, g.hdr[0]&0x40 != 0
			if g.msg > g.allowed() {
				return max(start, 0), false
			}
		}
		g.skip = length
	}
	return 0, true
}

// header reports the payload length once the header's length bytes and
// mask key are in.
func (g *frameGuard) header() (uint64, bool) {
	if g.hlen < 2 {
		return 0, false
	}
	need, ext := 2, 0
	switch g.hdr[1] & 0x7f {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	need += ext
	if g.hdr[1]&0x80 != 0 {
		need += 4
	}
	if g.hlen < need {
		return 0, false
	}
	switch ext {
	case 2:
		return uint64(binary.BigEndian.Uint16(g.hdr[2:4])), true
	case 8:
		return binary.BigEndian.Uint64(g.hdr[2:10]), true
	}
	return uint64(g.hdr[1] & 0x7f), true
}

// allowed is the most a message may announce. The limit counts the bytes
// the library hands over, after decompression; a compressed message may
// announce a little more than it inflates to (deflate's stored blocks add
// 5 bytes per 64 KiB, and a few of framing).
func (g *frameGuard) allowed() uint64 {
	if g.limit < 0 {
		return math.MaxUint64
	}
	n := uint64(g.limit)
	if g.flat {
		n += n/8192 + 64
	}
	return n
}
