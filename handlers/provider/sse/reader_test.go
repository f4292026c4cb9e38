package sse

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

type event struct{ typ, data, id string }

// readAll reads every event of input with a read buffer of bufSize bytes.
func readAll(input string, bufSize, maxSize int, oneByte bool) ([]event, error) {
	var src io.Reader = strings.NewReader(input)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	r := NewReader(src, maxSize)
	defer r.Release()
	if bufSize > 0 {
		r.br = bufio.NewReaderSize(src, bufSize)
	}
	var out []event
	for {
		ev, err := r.Next()
		if err != nil {
			return out, err
		}
		out = append(out, event{string(ev.Type), string(ev.Data), string(ev.ID)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []event
		err   error
	}{
		{
			name:  "openai stream",
			input: "data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n",
			want:  []event{{"", `{"a":1}`, ""}, {"", `{"a":2}`, ""}, {"", "[DONE]", ""}},
			err:   io.EOF,
		},
		{
			name:  "anthropic named events",
			input: "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
			want:  []event{{"message_start", `{"type":"message_start"}`, ""}, {"ping", `{"type": "ping"}`, ""}},
			err:   io.EOF,
		},
		{
			name:  "CRLF, comments and multi-line data",
			input: ": keep-alive\r\n\r\ndata:first\r\ndata: second\r\nid: 7\r\n\r\n",
			want:  []event{{"", "first\nsecond", "7"}},
			err:   io.EOF,
		},
		{
			name:  "lone CR terminators",
			input: "data: a\r\rdata: b\r\r",
			want:  []event{{"", "a", ""}, {"", "b", ""}},
			err:   io.EOF,
		},
		{
			name:  "empty data is dispatched, event without data is not",
			input: "event: x\n\ndata:\n\n",
			want:  []event{{"", "", ""}},
			err:   io.EOF,
		},
		{
			name:  "cut off mid-event",
			input: "data: {\"a\":1}\n\ndata: {\"a\":",
			want:  []event{{"", `{"a":1}`, ""}},
			err:   io.ErrUnexpectedEOF,
		},
		{
			name:  "cut off before the blank line",
			input: "data: {\"a\":1}\n",
			err:   io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			name    string
			bufSize int
			oneByte bool
		}{{"pooled buffer", 0, false}, {"tiny buffer", 16, false}, {"one byte reads", 16, true}} {
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				got, err := readAll(tt.input, mode.bufSize, 0, mode.oneByte)
				if !errors.Is(err, tt.err) {
					t.Errorf("error = %v, want %v", err, tt.err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %q\nwant %q", got, tt.want)
				}
			})
		}
	}
}

func TestReaderMaxEventSize(t *testing.T) {
	big := "data: " + strings.Repeat("x", 100) + "\n\n"
	_, err := readAll(big, 16, 64, false)
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("error = %v, want ErrEventTooLarge", err)
	}
	many := strings.Repeat("data: 0123456789\n", 10) + "\n"
	if _, err := readAll(many, 0, 64, false); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("error = %v, want ErrEventTooLarge for many lines", err)
	}
}

func BenchmarkReader(b *testing.B) {
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}` + "\n\n"
	input := strings.Repeat(chunk, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		r := NewReader(strings.NewReader(input), 0)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
		r.Release()
	}
}

// Ready tells whether Next would return an event without reading: a
// complete event with data is buffered. It never reads, and is false when
// unsure.
func TestReady(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string // what the source has delivered so far, after the first event
		want  bool
	}{
		{"next event complete", "data: {\"a\":2}\n\n", true},
		{"next event complete, CRLF", "data: {\"a\":2}\r\n\r\n", true},
		{"next event without data colon", "data\n\n", false},
		{"next event split", "data: {\"a\":2}\n", false},
		{"next event half read", "data: {\"a\"", false},
		{"nothing buffered", "", false},
		{"a comment only, then a split event", ": ping\n\ndata: x\n", false},
		{"a comment, then a complete event", ": ping\n\nevent: e\ndata: x\n\n", true},
		{"blank data", "data: \n\n", false},
		{"lone CR endings", "data: x\r\r", false},
		{"a field named like data", "datafield: x\n\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &chunkedSource{parts: []string{"data: {\"a\":1}\n\n" + tc.input, "data: later\n\n"}}
			r := NewReader(src, 0)
			defer r.Release()
			r.br = bufio.NewReaderSize(src, 4096) // other tests pool smaller buffers
			if ev, err := r.Next(); err != nil || string(ev.Data) != `{"a":1}` {
				t.Fatalf("first event %q, %v", ev.Data, err)
			}
			reads := src.reads
			if got := r.Ready(); got != tc.want {
				t.Errorf("Ready() = %v, want %v", got, tc.want)
			}
			if src.reads != reads {
				t.Error("Ready read from the source")
			}
		})
	}
}

// chunkedSource returns one part per Read, as a network connection returns
// what has arrived.
type chunkedSource struct {
	parts []string
	reads int
}

func (c *chunkedSource) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	c.reads++
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}
