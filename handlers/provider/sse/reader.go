// Package sse reads Server-Sent Events streams as upstreams send them
// (OpenAI's data-only events, Anthropic's named events), following the
// WHATWG event-stream parsing rules, with reused buffers and a bound on the
// size of one event.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// DefaultMaxEventSize bounds one event's data. Chat chunks are small; the
// bound only stops a broken upstream from exhausting memory.
const DefaultMaxEventSize = 8 << 20

// readBufferSize is the size of the pooled read buffers.
const readBufferSize = 16 << 10

// ErrEventTooLarge is returned when an event or a line exceeds the maximum
// size.
var ErrEventTooLarge = errors.New("sse: event too large")

// Event is one dispatched event. Its slices are valid until the next call of
// Reader.Next.
type Event struct {
	// Type is the event field ("" means the default type "message").
	Type []byte
	// Data is the data lines joined by "\n".
	Data []byte
	// ID is the last event id seen (it persists across events).
	ID []byte
}

// Reader reads events from a stream.
type Reader struct {
	br      *bufio.Reader
	maxSize int

	line []byte // a line longer than the read buffer, assembled
	data []byte
	typ  []byte
	id   []byte
	// pending is the part of the last physical line (up to LF) not yet
	// returned: a physical line holds several lines when they end with a
	// lone CR.
	pending    []byte
	hasPending bool
	pendingEOF bool // the physical line ended at EOF, not at a LF
	partial    bool // some field of an undispatched event was read
}

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// NewReader returns a reader of r. maxEventSize <= 0 means
// DefaultMaxEventSize. Call Release when done to recycle its buffer.
func NewReader(r io.Reader, maxEventSize int) *Reader {
	if maxEventSize <= 0 {
		maxEventSize = DefaultMaxEventSize
	}
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	return &Reader{br: br, maxSize: maxEventSize, data: make([]byte, 0, 512)}
}

// Release returns the reader's buffer to the pool. The reader must not be
// used afterwards.
func (r *Reader) Release() {
	if r.br != nil {
		r.br.Reset(nil)
		bufPool.Put(r.br)
		r.br = nil
	}
}

// Next returns the next event. At the end of the stream it returns io.EOF,
// or io.ErrUnexpectedEOF when the stream stopped in the middle of an event
// (which is then discarded, as the WHATWG rules say).
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.typ = r.typ[:0]
	r.partial = false
	for {
		line, err := r.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if r.partial {
					return Event{}, io.ErrUnexpectedEOF
				}
				return Event{}, io.EOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if len(r.data) == 0 {
				// An empty event (only comments, or event/id without data)
				// is not dispatched; its type does not carry over.
				r.typ = r.typ[:0]
				r.partial = false
				continue
			}
			return Event{Type: r.typ, Data: r.data[:len(r.data)-1], ID: r.id}, nil
		}
		if err := r.field(line); err != nil {
			return Event{}, err
		}
	}
}

// Ready reports whether the next event is already in the reader's buffer,
// complete and with non-blank data, so that Next returns it without
// reading from the stream. A relay uses it to write the events that
// arrived together before flushing them all at once. It may report false
// when it cannot tell cheaply (lone CR line endings, an event longer than
// the buffer): the caller then flushes what it wrote, as it would without
// Ready. It never reads from the stream.
func (r *Reader) Ready() bool {
	if r.br == nil || r.hasPending {
		return false
	}
	buf, _ := r.br.Peek(r.br.Buffered()) // never reads: Buffered bytes are there
	hasData := false
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return false
		}
		line := buf[:i]
		buf = buf[i+1:]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return false
		}
		if len(line) == 0 {
			if hasData {
				return true
			}
			continue
		}
		if value, ok := bytes.CutPrefix(line, dataField); ok && (len(value) == 0 || value[0] == ':') {
			hasData = hasData || len(bytes.TrimSpace(bytes.TrimPrefix(value, colon))) > 0
		}
	}
}

var (
	dataField = []byte("data")
	colon     = []byte(":")
)

// field processes one non-empty line.
func (r *Reader) field(line []byte) error {
	if line[0] == ':' {
		return nil // a comment, as servers send for keep-alive
	}
	r.partial = true
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) { // no allocation: the compiler compares in place
	case "data":
		if len(r.data)+len(value)+1 > r.maxSize {
			return ErrEventTooLarge
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "event":
		r.typ = append(r.typ[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = append(r.id[:0], value...)
		}
	}
	return nil
}

// readLine returns the next line without its terminator (CRLF, LF or a lone
// CR). The line is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	for {
		if r.hasPending {
			if i := bytes.IndexByte(r.pending, '\r'); i >= 0 {
				line := r.pending[:i]
				r.pending = r.pending[i+1:]
				return line, nil
			}
			line := r.pending
			r.pending, r.hasPending = nil, false
			if r.pendingEOF {
				// The last segment of a stream that ends without a line
				// terminator is not a line.
				if len(line) > 0 {
					r.partial = true
				}
				return nil, io.EOF
			}
			return line, nil
		}
		raw, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.line = append(r.line[:0], raw...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(r.line) > r.maxSize {
					return nil, ErrEventTooLarge
				}
				raw, err = r.br.ReadSlice('\n')
				r.line = append(r.line, raw...)
			}
			raw = r.line
		}
		switch {
		case err == nil:
			raw = raw[:len(raw)-1] // the '\n'
			if n := len(raw); n > 0 && raw[n-1] == '\r' {
				raw = raw[:n-1]
			}
			r.pending, r.hasPending, r.pendingEOF = raw, true, false
		case errors.Is(err, io.EOF) && len(raw) > 0:
			r.pending, r.hasPending, r.pendingEOF = raw, true, true
		default:
			return nil, err
		}
	}
}
