package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tidwall/gjson"
)

// StreamStats describes one SSE stream of chat completion chunks as the
// client saw it.
type StreamStats struct {
	// Events counts the events with data; Content those whose first
	// choice carries non-empty delta content.
	Events, Content int
	// Reads counts the reads that returned data; ContentReads the distinct
	// reads that completed at least one content event. ContentReads ==
	// Content means every content chunk arrived on its own.
	Reads, ContentReads int
	// FirstContent is when the first content event arrived.
	FirstContent time.Time
	// Done is true when the stream ended with data: [DONE]; ErrorEvent
	// when an event carried an "error" object.
	Done, ErrorEvent bool
}

// Separate reports whether every content chunk arrived in a read of its
// own (a proxy that buffers or coalesces chunks fails it).
func (s StreamStats) Separate() bool { return s.Content > 0 && s.ContentReads == s.Content }

// StreamReader reads SSE streams, timestamping every event when the read
// that completed it returned. One reader serves one worker, stream after
// stream; it is not safe for concurrent use.
type StreamReader struct {
	// Now is the clock (time.Now when nil); tests replace it.
	Now func() time.Time

	buf  []byte
	line []byte // a line split across reads
	data []byte // the data of the event being assembled
	has  bool   // the event being assembled has a data field

	stats       StreamStats
	lastContent time.Time
	lastRead    int // index of the read that completed the last content event
}

// errStreamTooLong stops a stream whose single line outgrows any sane event.
var errStreamTooLong = errors.New("an SSE line longer than 1 MiB")

const maxLine = 1 << 20

// Read reads body to its end and returns the stream's stats, appending the
// gaps between consecutive content events to gaps.
func (sr *StreamReader) Read(body io.Reader, gaps []time.Duration) (StreamStats, []time.Duration, error) {
	return sr.read(body, gaps, false)
}

// ReadFirstContent reads body until its first content event and returns
// the stats so far; the rest of the stream is left unread.
func (sr *StreamReader) ReadFirstContent(body io.Reader) (StreamStats, error) {
	stats, _, err := sr.read(body, nil, true)
	return stats, err
}

func (sr *StreamReader) read(body io.Reader, gaps []time.Duration, untilContent bool) (StreamStats, []time.Duration, error) {
	if sr.buf == nil {
		sr.buf = make([]byte, 32<<10)
	}
	now := sr.Now
	if now == nil {
		now = time.Now
	}
	sr.line, sr.data, sr.has = sr.line[:0], sr.data[:0], false
	sr.stats, sr.lastContent, sr.lastRead = StreamStats{}, time.Time{}, -1
	for {
		n, err := body.Read(sr.buf)
		if n > 0 {
			at := now()
			sr.stats.Reads++
			if perr := sr.feed(sr.buf[:n], at, sr.stats.Reads, &gaps); perr != nil {
				return sr.stats, gaps, perr
			}
			if untilContent && sr.stats.Content > 0 {
				return sr.stats, gaps, nil
			}
		}
		if errors.Is(err, io.EOF) {
			// A last event without its blank line still counts.
			if len(sr.line) > 0 {
				sr.processLine(sr.line, time.Time{}, 0, &gaps)
				sr.line = sr.line[:0]
			}
			sr.dispatch(now(), sr.stats.Reads, &gaps)
			return sr.stats, gaps, nil
		}
		if err != nil {
			return sr.stats, gaps, fmt.Errorf("reading the stream: %w", err)
		}
	}
}

// feed splits p into lines, carrying a partial last line to the next read.
func (sr *StreamReader) feed(p []byte, at time.Time, read int, gaps *[]time.Duration) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(sr.line)+len(p) > maxLine {
				return errStreamTooLong
			}
			sr.line = append(sr.line, p...)
			return nil
		}
		line := p[:i]
		if len(sr.line) > 0 {
			sr.line = append(sr.line, line...)
			line = sr.line
		}
		sr.processLine(line, at, read, gaps)
		sr.line = sr.line[:0]
		p = p[i+1:]
	}
	return nil
}

// processLine handles one line (without its newline): a blank line ends
// the event; data fields accumulate; other fields and comments are ignored.
func (sr *StreamReader) processLine(line []byte, at time.Time, read int, gaps *[]time.Duration) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) == 0 {
		sr.dispatch(at, read, gaps)
		return
	}
	value, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return
	}
	value = bytes.TrimPrefix(value, []byte{' '})
	if sr.has {
		sr.data = append(sr.data, '\n')
	}
	sr.data = append(sr.data, value...)
	sr.has = true
}

// dispatch classifies the assembled event.
func (sr *StreamReader) dispatch(at time.Time, read int, gaps *[]time.Duration) {
	if !sr.has {
		return
	}
	data := sr.data
	sr.data, sr.has = sr.data[:0], false
	sr.stats.Events++
	switch {
	case bytes.Equal(data, []byte("[DONE]")):
		sr.stats.Done = true
	case gjson.GetBytes(data, "error").Exists():
		sr.stats.ErrorEvent = true
	case gjson.GetBytes(data, "choices.0.delta.content").String() != "":
		sr.stats.Content++
		if sr.stats.Content == 1 {
			sr.stats.FirstContent = at
		} else {
			*gaps = append(*gaps, at.Sub(sr.lastContent))
		}
		if read != sr.lastRead {
			sr.stats.ContentReads++
		}
		sr.lastContent, sr.lastRead = at, read
	}
}
