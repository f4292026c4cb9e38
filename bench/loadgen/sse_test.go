package loadgen

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// reads is a body that returns one string per Read, like a network
// connection handing over what arrived.
type reads struct{ parts []string }

func (r *reads) Read(p []byte) (int, error) {
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	if r.parts[0] == "" {
		r.parts = r.parts[1:]
	}
	return n, nil
}

// clock advances one millisecond per call: read k happens at k ms.
func clock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

const (
	role    = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
	content = "data: {\"choices\":[{\"delta\":{\"content\":\"token \"}}]}\n\n"
	usage   = "data: {\"choices\":[],\"usage\":{\"completion_tokens\":3}}\n\n"
	done    = "data: [DONE]\n\n"
)

func TestStreamReader(t *testing.T) {
	for _, tc := range []struct {
		name         string
		parts        []string
		want         StreamStats // FirstContent as ms since the epoch, in wantFirst
		wantFirst    int
		wantGaps     []time.Duration
		wantSeparate bool
	}{
		{
			name:  "every event in a read of its own",
			parts: []string{role, content, content, content, usage, done},
			want:  StreamStats{Events: 6, Content: 3, Reads: 6, ContentReads: 3, Done: true},
			// read 2 at 2 ms, then 3 and 4.
			wantFirst: 2, wantGaps: []time.Duration{time.Millisecond, time.Millisecond}, wantSeparate: true,
		},
		{
			name:      "role and first content together still count as separate chunks",
			parts:     []string{role + content, content, usage + done},
			want:      StreamStats{Events: 5, Content: 2, Reads: 3, ContentReads: 2, Done: true},
			wantFirst: 1, wantGaps: []time.Duration{time.Millisecond}, wantSeparate: true,
		},
		{
			name:      "two content chunks in one read are coalesced",
			parts:     []string{role, content + content, content, done},
			want:      StreamStats{Events: 5, Content: 3, Reads: 4, ContentReads: 2, Done: true},
			wantFirst: 2, wantGaps: []time.Duration{0, time.Millisecond},
		},
		{
			name:  "an event split across reads counts when it completes",
			parts: []string{role, content[:10], content[10:] + content[:len(content)-1], "\n", done},
			want:  StreamStats{Events: 4, Content: 2, Reads: 5, ContentReads: 2, Done: true},
			// the first content completes in read 3, the second in read 4.
			wantFirst: 3, wantGaps: []time.Duration{time.Millisecond}, wantSeparate: true,
		},
		{
			name:      "CRLF line endings, comments and other fields",
			parts:     []string{": keep-alive\r\n\r\n", "event: message\r\nid: 1\r\n" + strings.ReplaceAll(content, "\n", "\r\n"), strings.ReplaceAll(done, "\n", "\r\n")},
			want:      StreamStats{Events: 2, Content: 1, Reads: 3, ContentReads: 1, Done: true},
			wantFirst: 2, wantSeparate: true,
		},
		{
			name:      "an error event and no [DONE]",
			parts:     []string{role, content, "data: {\"error\":{\"message\":\"upstream failed\"}}\n\n"},
			want:      StreamStats{Events: 3, Content: 1, Reads: 3, ContentReads: 1, ErrorEvent: true},
			wantFirst: 2, wantSeparate: true,
		},
		{
			name:      "a last event without its blank line",
			parts:     []string{content, "data: [DONE]"},
			want:      StreamStats{Events: 2, Content: 1, Reads: 2, ContentReads: 1, Done: true},
			wantFirst: 1, wantSeparate: true,
		},
		{
			name:      "multi-line data is joined",
			parts:     []string{"data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"x\"}}]}\n\n", done},
			want:      StreamStats{Events: 2, Content: 1, Reads: 2, ContentReads: 1, Done: true},
			wantFirst: 1, wantSeparate: true,
		},
		{
			name:  "nothing",
			parts: nil,
			want:  StreamStats{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sr := StreamReader{Now: clock()}
			got, gaps, err := sr.Read(&reads{parts: append([]string(nil), tc.parts...)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.wantFirst > 0 {
				want.FirstContent = time.Unix(0, 0).Add(time.Duration(tc.wantFirst) * time.Millisecond)
			}
			if got != want {
				t.Errorf("stats = %+v\nwant    %+v", got, want)
			}
			if len(gaps) != len(tc.wantGaps) {
				t.Fatalf("gaps = %v, want %v", gaps, tc.wantGaps)
			}
			for i := range gaps {
				if gaps[i] != tc.wantGaps[i] {
					t.Errorf("gaps = %v, want %v", gaps, tc.wantGaps)
				}
			}
			if got.Separate() != tc.wantSeparate {
				t.Errorf("Separate() = %v", got.Separate())
			}
		})
	}
}

// A reader serves stream after stream; nothing carries over.
func TestStreamReaderReuse(t *testing.T) {
	sr := StreamReader{Now: clock()}
	// The first stream ends in the middle of an event.
	if _, _, err := sr.Read(&reads{parts: []string{content, "data: {\"choi"}}, nil); err != nil {
		t.Fatal(err)
	}
	got, gaps, err := sr.Read(&reads{parts: []string{content, done}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Events != 2 || got.Content != 1 || !got.Done || len(gaps) != 0 {
		t.Errorf("second stream: %+v, gaps %v", got, gaps)
	}
}

func TestStreamReaderFirstContent(t *testing.T) {
	body := &reads{parts: []string{role, content, content, done}}
	var sr StreamReader
	got, err := sr.ReadFirstContent(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Content != 1 || got.Done || len(body.parts) != 2 {
		t.Errorf("stats %+v with %d reads left; want to stop after the first content", got, len(body.parts))
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestStreamReaderErrors(t *testing.T) {
	var sr StreamReader
	if _, _, err := sr.Read(failing{}, nil); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("err = %v", err)
	}
	long := &reads{parts: []string{"data: " + strings.Repeat("x", maxLine+1)}}
	if _, _, err := sr.Read(long, nil); !errors.Is(err, errStreamTooLong) {
		t.Errorf("err = %v, want errStreamTooLong", err)
	}
}
