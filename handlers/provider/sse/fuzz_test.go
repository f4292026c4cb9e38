package sse

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// reference parses a whole event stream the way the WHATWG specification
// describes it, as plainly as possible, for differential fuzzing.
func reference(input string) (events []event, partial bool) {
	var lines []string
	terminated := false
	for {
		i := strings.IndexAny(input, "\r\n")
		if i < 0 {
			terminated = input == ""
			break
		}
		lines = append(lines, input[:i])
		if input[i] == '\r' && i+1 < len(input) && input[i+1] == '\n' {
			i++
		}
		input = input[i+1:]
	}
	var data, typ, id strings.Builder
	var inEvent bool
	for _, line := range lines {
		switch {
		case line == "":
			if data.Len() > 0 {
				d := data.String()
				events = append(events, event{typ.String(), d[:len(d)-1], id.String()})
			}
			data.Reset()
			typ.Reset()
			inEvent = false
			continue
		case line[0] == ':':
			continue
		}
		inEvent = true
		name, value, found := strings.Cut(line, ":")
		if found && strings.HasPrefix(value, " ") {
			value = value[1:]
		}
		switch name {
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		case "event":
			typ.Reset()
			typ.WriteString(value)
		case "id":
			if !strings.Contains(value, "\x00") {
				id.Reset()
				id.WriteString(value)
			}
		}
	}
	return events, inEvent || !terminated
}

// FuzzReader checks the reader against the reference parser, with small
// buffers so that long lines take the assembly path too.
func FuzzReader(f *testing.F) {
	f.Add("data: {\"a\":1}\n\ndata: [DONE]\n\n")
	f.Add("event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\n")
	f.Add(": comment\r\ndata:x\r\ndata: y\r\nid: 1\r\n\r\n")
	f.Add("data: a\r\rdata: b\r\r")
	f.Add("data: cut")
	f.Add("data: x\n\r")
	f.Fuzz(func(t *testing.T, input string) {
		want, partial := reference(input)
		for _, oneByte := range []bool{false, true} {
			got, err := readAll(input, 16, 1<<20, oneByte)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("oneByte=%v input %q:\ngot  %q\nwant %q", oneByte, input, got, want)
			}
			wantErr := io.EOF
			if partial {
				wantErr = io.ErrUnexpectedEOF
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("oneByte=%v input %q: error %v, want %v", oneByte, input, err, wantErr)
			}
		}
	})
}
