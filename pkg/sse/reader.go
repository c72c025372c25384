// Package sse reads Server-Sent Events from an upstream one complete event
// at a time, exactly as received, so the relay can forward each event the
// moment it ends and pick token usage out of the final one on the fly.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrEventTooLarge ends a stream whose event grows past the reader's
// limit: an upstream that never ends a line must not take the process's
// memory with it.
var ErrEventTooLarge = errors.New("sse: event larger than the limit")

// DefaultMaxEvent is the largest event a Reader holds unless told
// otherwise. The final response.completed event carries the whole output,
// which stays far below this even for long tool-heavy turns.
const DefaultMaxEvent = 16 << 20

// initialBufSize fits every delta event (a few hundred bytes each) and
// matches the transport's own read buffer; the buffer grows for the final
// response.completed event, which carries the whole output. It is held for
// the stream's whole life, so it counts in the memory of every open stream.
const initialBufSize = 4 << 10

// Reader splits an event stream into events. It holds at most one event
// plus what has already arrived of the next, never the whole stream.
type Reader struct {
	src  io.Reader
	buf  []byte
	r, w int // buf[r:w] is read but not yet returned

	// Scan state of the event being assembled, as indexes into buf. Lines
	// before pos are complete and not blank; buf[pos:searched] holds no line
	// terminator. nl caches the next '\n' at or after searched (-1: none in
	// buf[:nlScanned]) so that bare-CR lines do not rescan the buffer.
	pos, searched, nl, nlScanned int

	err      error // sticky error from src
	maxEvent int   // the largest event held; see SetMax
}

// NewReader returns a Reader of the events of src.
func NewReader(src io.Reader) *Reader {
	r := &Reader{maxEvent: DefaultMaxEvent}
	r.Reset(src)
	return r
}

// Reset makes r read a new stream from src, keeping its buffer, so that a
// pool of readers costs no allocation per response.
func (r *Reader) Reset(src io.Reader) {
	r.src, r.r, r.w, r.err = src, 0, 0, nil
	r.pos, r.searched, r.nl, r.nlScanned = 0, 0, -1, 0
}

// SetMax bounds the size of one event; n <= 0 restores DefaultMaxEvent.
// An event that grows past it ends the stream with ErrEventTooLarge, with
// the buffer never grown past about n bytes.
func (r *Reader) SetMax(n int) {
	if n <= 0 {
		n = DefaultMaxEvent
	}
	r.maxEvent = n
}

// Next returns the next event's raw bytes: every line up to and including
// the blank line that ends it, exactly as received (LF, CRLF or CR line
// ends), so the relay forwards bytes unchanged. A blank line with nothing
// before it is an event of its own. The slice is valid until the next call.
// Lines may be of any length. At EOF a trailing event without a blank line
// is returned as is, then io.EOF; other read errors are returned wrapped,
// dropping the incomplete event.
func (r *Reader) Next() ([]byte, error) {
	for {
		if end := r.eventEnd(r.err != nil); end >= 0 {
			return r.take(end), nil
		}
		if r.err != nil {
			if r.err == io.EOF {
				if r.r < r.w {
					return r.take(r.w), nil
				}
				return nil, io.EOF
			}
			if r.err == ErrEventTooLarge {
				return nil, r.err
			}
			return nil, fmt.Errorf("sse: reading event stream: %w", r.err)
		}
		r.fill()
	}
}

// take returns buf[r:end] as an event and starts the next one after it.
func (r *Reader) take(end int) []byte {
	ev := r.buf[r.r:end]
	r.r, r.pos, r.searched = end, end, end
	return ev
}

// eventEnd returns the index just past the blank line ending the event at
// buf[r:], or -1 when more data is needed. atEOF settles a CR at the very
// end of the data, which is otherwise ambiguous until the next byte shows
// whether it starts a CRLF.
func (r *Reader) eventEnd(atEOF bool) int {
	for {
		t := r.nextTerminator(max(r.pos, r.searched))
		if t < 0 {
			r.searched = r.w
			return -1
		}
		lineEnd := t + 1
		if r.buf[t] == '\r' {
			switch {
			case t+1 < r.w && r.buf[t+1] == '\n':
				lineEnd = t + 2
			case t+1 == r.w && !atEOF:
				r.searched = t
				return -1
			}
		}
		if t == r.pos {
			return lineEnd // a blank line: the event is complete
		}
		r.pos, r.searched = lineEnd, lineEnd
	}
}

// nextTerminator returns the index of the first '\r' or '\n' in buf[from:w],
// or -1. Both searches use the vectorised bytes.IndexByte, which matters for
// the 100 KB data line of a completed event.
func (r *Reader) nextTerminator(from int) int {
	if r.nl < from {
		start := max(from, r.nlScanned)
		if k := bytes.IndexByte(r.buf[start:r.w], '\n'); k >= 0 {
			r.nl = start + k
		} else {
			r.nl, r.nlScanned = -1, r.w
		}
	}
	limit := r.w
	if r.nl >= from {
		limit = r.nl
	}
	if c := bytes.IndexByte(r.buf[from:limit], '\r'); c >= 0 {
		return from + c
	}
	if r.nl >= from {
		return r.nl
	}
	return -1
}

// fill reads once from src, making room first. It returns after any data
// arrives: waiting for a full buffer would hold back a complete event.
func (r *Reader) fill() {
	switch {
	case r.r == r.w:
		r.shift(r.r)
	case r.w == len(r.buf) && r.r > 0:
		// Only the incomplete event is kept, and it moves once.
		copy(r.buf, r.buf[r.r:r.w])
		r.shift(r.r)
	}
	if r.w == len(r.buf) {
		if r.maxEvent > 0 && r.w-r.r >= r.maxEvent {
			r.err = ErrEventTooLarge
			return
		}
		size := max(2*len(r.buf), initialBufSize)
		if r.maxEvent > 0 {
			// Never grow past the limit plus what the buffer already holds
			// of earlier, complete events.
			size = min(size, r.r+r.maxEvent+1)
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	// Like bufio, give up on a source that keeps returning nothing.
	for range 100 {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// shift moves every index down by d after the data moved to the buffer's start.
func (r *Reader) shift(d int) {
	r.w -= d
	r.r -= d
	r.pos -= d
	r.searched -= d
	r.nlScanned = max(r.nlScanned-d, 0)
	if r.nl >= 0 {
		r.nl -= d
	}
}

// Buffered reports whether a complete event has already arrived behind the
// last one returned, so Next will return it without reading. The relay
// flushes only when nothing more is ready: each event still reaches the
// client the moment it is complete, but a burst costs one flush, not one
// per event.
func (r *Reader) Buffered() bool {
	return r.eventEnd(false) >= 0
}
