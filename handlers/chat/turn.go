package chat

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/sjson"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
)

// DefaultReplyWriteTimeout bounds the write of a turn's reply when
// Handler.ReplyWriteTimeout is zero.
const DefaultReplyWriteTimeout = 5 * time.Second

// ConversationRecorder persists chat turns into conversations: Jan's clients
// send "conversation" (an id or {"id"}) and "store" with a chat request, and
// expect the user message and the assistant reply appended to it and a
// conversation {id, title} in the answer (in a stream, one extra chunk just
// before [DONE]). Recorder implements it on the store, with the conversation
// domain (handlers/conversation).
//
// The gateway never forwards "conversation" nor "store" upstream.
type ConversationRecorder interface {
	// BeginTurn starts the turn of a request that names a conversation or
	// asks for "store": true. It is called after validation and media
	// resolution, before the upstream call, with the body as the client sent
	// it (media references unresolved) and the request parsed from it.
	// It writes the new user message when the turn is stored, and returns an
	// *apierr.Error to refuse the request (404 for a conversation that is not
	// the caller's, 503 when the database is unavailable).
	BeginTurn(ctx context.Context, p *principal.Principal, req *openai.ChatRequest, body []byte) (Turn, *apierr.Error)
}

// Turn is one chat turn being recorded. Its methods are called from the
// request's goroutine.
type Turn interface {
	// Conversation is the conversation member of the answer.
	Conversation() ConversationRef
	// SystemMessages are the system messages the gateway sends upstream
	// before the client's messages, in order (a project's instruction, the
	// user's profile, what the user's memory recalls); none is nil.
	SystemMessages() []string
	// Finish records the assistant's reply. It is called at most once, when
	// the answer has ended (also when it was cut short), never when the
	// upstream failed before answering. ctx is not the request's, which may
	// be cancelled already: it only bounds the write.
	Finish(ctx context.Context, reply Reply) error
}

// Reply is the assistant's answer of a turn, as far as it was produced.
type Reply struct {
	// Text is the content of the first choice.
	Text string
	// Refusal is the refusal of the first choice, if any.
	Refusal string
	// ToolCalls are the tool calls of the first choice, arguments complete
	// or, in a cut stream, as far as they came.
	ToolCalls []openai.ToolCall
	// Incomplete reports an answer cut short: the upstream failed
	// mid-stream or the client went away.
	Incomplete bool
}

// ConversationRef is the conversation member of an answer.
type ConversationRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// wantsTurn reports whether a request is to be recorded: it names a
// conversation or asks to be stored.
func wantsTurn(req *openai.ChatRequest) bool {
	return req.Conversation != "" || (req.Store != nil && *req.Store)
}

// finishTurn records the reply of a turn within ReplyWriteTimeout, on a
// context that outlives the request's: a client that went away mid-stream
// still gets its partial reply stored.
func (h *Handler) finishTurn(r *http.Request, o *Outcome, turn Turn, reply Reply) {
	timeout := h.ReplyWriteTimeout
	if timeout <= 0 {
		timeout = DefaultReplyWriteTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	if err := turn.Finish(ctx, reply); err != nil {
		h.logger().Warn("recording the reply of a turn failed",
			zap.String("model", o.Model), zap.Bool("incomplete", reply.Incomplete), zap.Error(err))
	}
}

// appendConversationRef appends ref as a JSON object.
func appendConversationRef(dst []byte, ref ConversationRef) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, ref.ID)
	dst = append(dst, `,"title":`...)
	dst = openai.AppendString(dst, ref.Title)
	return append(dst, '}')
}

// withConversation returns a chat.completion body with the conversation
// member added (or body unchanged if it cannot be, which a provider's
// validated answer never causes).
func withConversation(body []byte, ref ConversationRef) []byte {
	out, err := sjson.SetRawBytes(body, "conversation", appendConversationRef(nil, ref))
	if err != nil {
		return body
	}
	return out
}

// appendConversationEvent appends the stream event that carries the
// conversation: a chunk with no choices, with the stream's id, created and
// model, sent just before [DONE].
func appendConversationEvent(dst []byte, id string, created int64, model string, ref ConversationRef) []byte {
	if created == 0 {
		created = time.Now().Unix()
	}
	dst = append(dst, dataPrefix...)
	dst = append(dst, `{"id":`...)
	dst = openai.AppendString(dst, id)
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"model":`...)
	dst = openai.AppendString(dst, model)
	dst = append(dst, `,"choices":[],"conversation":`...)
	dst = appendConversationRef(dst, ref)
	dst = append(dst, '}')
	return append(dst, eventEnd...)
}
