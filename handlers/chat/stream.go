package chat

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/provider"
)

var (
	dataPrefix  = []byte("data: ")
	eventEnd    = []byte("\n\n")
	doneEvent   = []byte("data: [DONE]\n\n")
	eventBuffer = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

// serveStream relays a streamed answer. Headers go out once a deployment has
// sent its first chunk (the router reads it before choosing), then every
// chunk is written and flushed as it arrives. A failure before that is a
// plain HTTP error; a failure after it is an error event, and the stream ends
// without [DONE].
//
// A turn's reply is accumulated in memory as the chunks pass (no database
// work inside the loop) and written once the stream has ended, before the
// conversation event and [DONE]: a cut stream leaves an incomplete reply.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request, req *provider.Request, o *Outcome, turn Turn) {
	s, att, err := h.Router.ChatCompletionStream(r.Context(), req)
	o.Provider, o.UpstreamModel, o.Tries, o.UpstreamLatency = att.Provider, att.UpstreamModel, att.Tries, att.Latency
	if err != nil {
		h.upstreamFailed(w, r, o, err)
		return
	}
	defer s.Close()

	SetEventStreamHeader(w.Header())
	o.Status = http.StatusOK

	ew := NewEventWriter(w, h.StreamWriteTimeout)
	bp := eventBuffer.Get().(*[]byte)
	defer func() {
		ew.ClearDeadline()
		eventBuffer.Put(bp)
	}()

	var reply *replyBuilder
	if turn != nil {
		reply = &replyBuilder{}
	}
	// conversationEvent records the reply and returns the event that names
	// the conversation, or nil when no turn is recorded.
	conversationEvent := func(incomplete bool) []byte {
		if turn == nil {
			return nil
		}
		h.finishTurn(r, o, turn, reply.reply(incomplete))
		*bp = appendConversationEvent((*bp)[:0], reply.id, reply.created, o.Model, turn.Conversation())
		return *bp
	}

	// more reports whether the next chunk has already arrived: the chunks
	// that arrived together are written together and flushed once, and a
	// chunk is never held back while the upstream is awaited.
	ready, _ := s.(provider.ReadyStream)
	more := func() bool { return ready != nil && ready.Ready() }

	wroteHeader := false
	for {
		c, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !wroteHeader {
					h.firstByte(r, o)
					w.WriteHeader(http.StatusOK)
				}
				if event := conversationEvent(false); event != nil {
					_ = ew.Write(event, false)
				}
				_ = ew.Write(doneEvent, true)
				return
			}
			h.streamFailed(r, o, &ew, err, wroteHeader, conversationEvent)
			return
		}
		if c.HasUsage {
			o.Usage, o.HasUsage = c.Usage, true
		}
		if !c.UsageOnly {
			o.Chunks++
		}
		if reply != nil && !c.UsageOnly {
			reply.add(c.Data)
		}
		if c.UsageOnly && !req.Chat.IncludeUsage {
			// Recorded, not asked for; what was written before it goes out
			// unless more follows at once.
			if !more() {
				_ = ew.Write(nil, true) // a gone client fails the next write
			}
			continue
		}
		if !wroteHeader {
			h.firstByte(r, o)
			w.WriteHeader(http.StatusOK)
			wroteHeader = true
		}
		buf := append((*bp)[:0], dataPrefix...)
		buf = append(buf, c.Data...)
		buf = append(buf, eventEnd...)
		*bp = buf
		if err := ew.Write(buf, !more()); err != nil {
			// The client is gone; closing the stream aborts the upstream.
			s.Close()
			o.Incomplete, o.ErrorCode = true, provider.CodeClientClosed
			conversationEvent(true) // recorded, not sent
			return
		}
	}
}

func (h *Handler) firstByte(r *http.Request, o *Outcome) {
	o.TimeToFirstByte = time.Since(o.Start)
	if h.Observer != nil {
		h.Observer.FirstByte(r, o)
	}
}

// streamFailed ends a stream that broke after the router chose a
// deployment: it records a turn's partial reply, then, when the client is
// still there, sends the conversation event and an error event.
func (h *Handler) streamFailed(r *http.Request, o *Outcome, ew *EventWriter, err error, wroteHeader bool, conversationEvent func(incomplete bool) []byte) {
	perr := provider.AsError(r.Context(), err)
	e := perr.APIError()
	o.Incomplete, o.ErrorCode = true, e.Code
	event := conversationEvent(true)
	if perr.Kind == provider.KindCanceled {
		return
	}
	h.logger().Warn("upstream failed mid-stream",
		zap.String("model", o.Model), zap.String("provider", o.Provider),
		zap.String("kind", perr.Kind.String()), zap.Error(perr.Err))
	if !wroteHeader {
		ew.w.WriteHeader(http.StatusOK)
	}
	if event != nil {
		_ = ew.Write(event, false)
	}
	event, merr := json.Marshal(struct {
		Error *apierr.Error `json:"error"`
	}{e})
	if merr != nil {
		return
	}
	buf := make([]byte, 0, len(event)+len(dataPrefix)+len(eventEnd))
	buf = append(buf, dataPrefix...)
	buf = append(buf, event...)
	_ = ew.Write(append(buf, eventEnd...), true)
}

// SetEventStreamHeader sets the header of an event stream (chat's and the
// Responses API's).
func SetEventStreamHeader(hdr http.Header) {
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // tell buffering proxies in front to pass events on
	hdr.Del("Content-Length")
}

// EventWriter writes the events of a stream (chat's and the Responses
// API's), each within its own write deadline, and flushes them when asked:
// after every event, or after the last of those that arrived together.
type EventWriter struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	timeout     time.Duration
	noDeadlines bool // the writer does not support deadlines
	setDeadline bool
	unflushed   bool // an event was written and not flushed
}

// NewEventWriter returns a writer of w's events; a timeout ≤ 0 is
// DefaultStreamWriteTimeout. Call ClearDeadline when the stream ends.
func NewEventWriter(w http.ResponseWriter, timeout time.Duration) EventWriter {
	if timeout <= 0 {
		timeout = DefaultStreamWriteTimeout
	}
	return EventWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// Write writes b (nothing when it is empty) and, when flush is set,
// flushes what is written and not yet flushed.
func (ew *EventWriter) Write(b []byte, flush bool) error {
	if len(b) > 0 {
		if !ew.noDeadlines {
			if err := ew.rc.SetWriteDeadline(time.Now().Add(ew.timeout)); err != nil {
				ew.noDeadlines = true
			} else {
				ew.setDeadline = true
			}
		}
		if _, err := ew.w.Write(b); err != nil {
			return err
		}
		ew.unflushed = true
	}
	if !flush || !ew.unflushed {
		return nil
	}
	return ew.Flush()
}

// Flush sends what is written.
func (ew *EventWriter) Flush() error {
	ew.unflushed = false
	return ew.rc.Flush()
}

// ClearDeadline removes the last event's deadline: net/http does not reset
// it for the next request of a kept-alive connection when the server has no
// write timeout of its own.
func (ew *EventWriter) ClearDeadline() {
	if ew.setDeadline {
		_ = ew.rc.SetWriteDeadline(time.Time{})
	}
}
