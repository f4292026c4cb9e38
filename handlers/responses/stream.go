package responses

import (
	"errors"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// serveStream relays a streamed answer as the Responses event sequence:
// response.created and response.in_progress once a deployment has answered
// (a failure before that is a plain HTTP error, after the router's
// fail-over), then the events each upstream chunk makes, written and
// flushed as the chunk arrives (the events of chunks that arrived together
// are flushed once), then the items' done events and response.completed or
// response.incomplete. An upstream that fails mid-stream ends it with
// response.failed carrying the partial output, never a completion.
//
// The response is stored, and its turn appended to the conversation, once
// the answer has ended and before the final event is sent; a cut answer is
// stored as failed with its items incomplete.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request, t *turn, o *chat.Outcome) {
	s, att, err := h.Router.ChatCompletionStream(r.Context(), t.upstream)
	o.Provider, o.UpstreamModel, o.Tries, o.UpstreamLatency = att.Provider, att.UpstreamModel, att.Tries, att.Latency
	if err != nil {
		h.upstreamFailed(w, r, o, err)
		return
	}
	defer s.Close()

	chat.SetEventStreamHeader(w.Header())
	o.Status = http.StatusOK
	o.TimeToFirstByte = time.Since(o.Start)
	if h.Observer != nil {
		h.Observer.FirstByte(r, o)
	}
	w.WriteHeader(http.StatusOK)

	sw := chat.NewEventWriter(w, h.StreamWriteTimeout)
	defer sw.ClearDeadline()
	rel := relay{t: t}
	rel.ev.buf = make([]byte, 0, 4<<10)
	start := marshalResponse(t.response(StatusInProgress, nil, nil))
	rel.ev.response(eventCreated, start)
	rel.ev.response(eventInProgress, start)

	ready, _ := s.(provider.ReadyStream)
	for {
		if err := sw.Write(rel.ev.buf, ready == nil || !ready.Ready()); err != nil {
			s.Close()
			o.Incomplete, o.ErrorCode = true, provider.CodeClientClosed
			_ = h.finish(r, o, t, rel.failed(provider.CodeClientClosed, "the client closed the request"))
			return
		}
		rel.ev.buf = rel.ev.buf[:0]
		c, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				resp := rel.end()
				rel.ev.response(finalEvent(resp.Status), h.finish(r, o, t, resp))
				_ = sw.Write(rel.ev.buf, true)
				return
			}
			perr := provider.AsError(r.Context(), err)
			e := perr.APIError()
			o.Incomplete, o.ErrorCode = true, e.Code
			body := h.finish(r, o, t, rel.failed(e.Code, e.Message))
			if perr.Kind == provider.KindCanceled {
				return
			}
			h.logger().Warn("upstream failed mid-stream",
				zap.String("model", o.Model), zap.String("provider", o.Provider),
				zap.String("kind", perr.Kind.String()), zap.Error(perr.Err))
			rel.ev.response(eventFailed, body)
			_ = sw.Write(rel.ev.buf, true)
			return
		}
		if c.HasUsage {
			o.Usage, o.HasUsage = c.Usage, true
			rel.usage = usageOf(c.Usage)
		}
		if !c.UsageOnly {
			o.Chunks++ // about a token each, to meter a stream cut short
			rel.add(c.Data)
		}
	}
}

func finalEvent(status string) string {
	if status == StatusIncomplete {
		return eventIncomplete
	}
	return eventCompleted
}
