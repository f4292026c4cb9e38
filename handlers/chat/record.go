package chat

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/internal/bytesconv"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
)

// Recorder is the ConversationRecorder of the gateway: it reads a chat
// request's turn (the new user message, the title it gives) and records it
// with conversation.Recorder on Store, answering the domain's errors as
// HTTP errors. Its fields are read-only once it serves.
type Recorder struct {
	// Store keeps conversations, projects and settings. Required.
	Store store.Store
	// Logger receives failures the client cannot be told about (never
	// message content). Nil logs nothing.
	Logger *zap.Logger
	// Memory, when set, recalls and learns a user's memory on their turns
	// (see conversation.Memory). Nil: no memory.
	Memory conversation.Memory
}

// BeginTurn implements ConversationRecorder (see conversation.Recorder.Begin
// for what a turn does before the upstream call).
func (rec *Recorder) BeginTurn(ctx context.Context, p *principal.Principal, req *openai.ChatRequest, body []byte) (Turn, *apierr.Error) {
	in := readInput(body)
	// A new conversation is only begun with "store": true; a named one is
	// written unless "store": false.
	write := req.Store == nil || *req.Store
	if in.user != nil && write {
		// The message is stored: it obeys the limits of stored items.
		if err := conversation.ValidateContent(in.user.Content); err != nil {
			return nil, apierr.Invalid("messages["+strconv.Itoa(in.userIndex)+"].content", "invalid_value", err.Error())
		}
	}
	dom := conversation.Recorder{Store: rec.Store, Memory: rec.Memory}
	r, err := dom.Begin(ctx, conversation.Turn{
		UserID:         p.UserID,
		ConversationID: req.Conversation,
		Write:          write,
		Title:          in.title,
		User:           in.user,
	})
	if err != nil {
		return nil, rec.refuse(ctx, err)
	}
	if err := r.TitleError(); err != nil && rec.Logger != nil {
		rec.Logger.Warn("titling a conversation failed", zap.String("conversation", req.Conversation), zap.Error(err))
	}
	return recording{r}, nil
}

// refuse returns the client's error for a failed turn: 404 for a
// conversation that is not the caller's, 503 when the database is
// unavailable, 499 when the client went away, 500 (logged) otherwise.
func (rec *Recorder) refuse(ctx context.Context, err error) *apierr.Error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("conversation").WithParam("conversation")
	}
	if aerr := httpx.StoreError(err, "conversation"); aerr != nil {
		return aerr
	}
	if ctx.Err() != nil {
		return apierr.New(apierr.StatusClientClosed, provider.CodeClientClosed, "the client closed the request")
	}
	if rec.Logger != nil {
		rec.Logger.Error("recording a turn failed", zap.Error(err))
	}
	return apierr.New(http.StatusInternalServerError, "internal_error", "internal error")
}

// recording is a conversation.Recording seen as a Turn.
type recording struct{ r *conversation.Recording }

func (t recording) Conversation() ConversationRef {
	ref := t.r.Conversation()
	return ConversationRef{ID: ref.ID, Title: ref.Title}
}

func (t recording) SystemMessages() []string { return t.r.SystemMessages() }

func (t recording) Finish(ctx context.Context, reply Reply) error {
	out := conversation.Reply{Text: reply.Text, Refusal: reply.Refusal, Incomplete: reply.Incomplete}
	if len(reply.ToolCalls) > 0 {
		out.ToolCalls = make([]conversation.ToolCall, len(reply.ToolCalls))
		for i, c := range reply.ToolCalls {
			out.ToolCalls[i] = conversation.ToolCall{Name: c.Function.Name, Arguments: c.Function.Arguments}
		}
	}
	return t.r.Finish(ctx, out)
}

// input is what a turn takes from a request's messages.
type input struct {
	// title is the title an untitled conversation takes: the text of the
	// first user message that has some, shortened. Empty when none has.
	title string
	// user is the new user message: the request's last message when it is
	// the user's. Clients resend the whole history with every request, so
	// only that message is new. A request that ends otherwise (with a tool
	// result, say, after the model called a tool) adds no user message:
	// its user message was stored by an earlier turn.
	user *store.Item
	// userIndex is the index of that message in the request's messages.
	userIndex int
}

// readInput reads the messages of a validated request body. Everything it
// returns has memory of its own: stored items must not pin the body.
func readInput(body []byte) input {
	var (
		in    input
		last  gjson.Result
		title string
		n     int
	)
	gjson.Get(bytesconv.String(body), "messages").ForEach(func(_, m gjson.Result) bool {
		last = m
		n++
		if title == "" && m.Get("role").Str == conversation.RoleUser {
			title = conversation.TitleFrom(joinedText(m.Get("content")))
		}
		return true
	})
	// A title comes from any user message, maybe an earlier one than the
	// stored message that was checked: a NUL in it, which PostgreSQL cannot
	// store, is replaced rather than refused.
	in.title = conversation.WithoutNUL(strings.Clone(title))
	in.userIndex = n - 1
	if last.Get("role").Str == conversation.RoleUser {
		item := userItem(last.Get("content"))
		in.user = &item
	}
	return in
}

// userItem converts a chat message's content (a string, or text and
// image_url parts) into a user item.
func userItem(content gjson.Result) store.Item {
	if !content.IsArray() {
		return conversation.UserItem([]string{content.Str}, nil)
	}
	var texts, images []string
	content.ForEach(func(_, part gjson.Result) bool {
		switch part.Get("type").Str {
		case "text":
			texts = append(texts, part.Get("text").Str)
		case "image_url":
			// {"url": …} or a bare string.
			img := part.Get("image_url")
			url := img.Str
			if img.IsObject() {
				url = img.Get("url").Str
			}
			images = append(images, url)
		}
		return true
	})
	return conversation.UserItem(texts, images)
}

// joinedText returns the text of a chat message's content: the string, or
// its text parts joined by newlines.
func joinedText(content gjson.Result) string {
	if !content.IsArray() {
		return content.Str
	}
	var texts []string
	content.ForEach(func(_, part gjson.Result) bool {
		if part.Get("type").Str == "text" {
			texts = append(texts, part.Get("text").Str)
		}
		return true
	})
	return strings.Join(texts, "\n")
}
