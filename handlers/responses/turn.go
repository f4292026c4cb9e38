package responses

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
)

// MaxConversationContext bounds the items of a conversation sent upstream
// before a request's input: the newest ones, also no more than
// store.MaxResponseChainBytes of them.
const MaxConversationContext = 500

// turn is one response being made.
type turn struct {
	req     *Request
	userID  int64
	id      string // resp_…
	created int64
	model   string
	// input are the request's input items with their ids.
	input []Item
	// conv is the conversation the turn is appended to, nil for none;
	// convItems the ids of the items appended so far.
	conv      *conversation.Recording
	convItems []string
	// upstream is the chat completions request sent to the providers.
	upstream *provider.Request
	// temperature and topP are the values the answer was made with.
	temperature, topP *float64
}

// begin prepares a turn before its upstream call: it reads the context
// (previous responses, or the conversation's items), begins the
// conversation's turn (appending the input's messages when it is stored),
// and builds the chat completions request. Errors are the client's.
func (h *Handler) begin(r *http.Request, p *principal.Principal, req *Request, model *provider.Model) (*turn, *apierr.Error) {
	ctx := r.Context()
	t := &turn{req: req, userID: p.UserID, id: store.NewPublicID(store.PrefixResponse), created: time.Now().Unix(), model: model.ID}
	t.input = withIDs(req.Input)
	var history []Item
	if req.PreviousResponseID != "" {
		chain, err := h.Store.ResponseChain(ctx, p.UserID, req.PreviousResponseID, store.MaxResponseChain, store.MaxResponseChainBytes)
		if err != nil {
			return nil, h.storeError(ctx, err, "previous_response_id")
		}
		for _, prev := range chain {
			in, out, err := storedItems(prev)
			if err != nil {
				h.logger().Error("reading a stored response", zap.String("response", prev.PublicID), zap.Error(err))
				return nil, apierr.New(http.StatusInternalServerError, "internal_error", "internal error")
			}
			history = append(history, in...)
			history = append(history, out...)
		}
	}
	var system []string
	if req.Conversation != "" {
		var aerr *apierr.Error
		if history, system, aerr = h.beginConversation(ctx, t); aerr != nil {
			return nil, aerr
		}
	}
	if len(history) == 0 && len(t.input) == 0 {
		return nil, openai.ErrValue("input", "must contain at least one item")
	}
	body, err := chatBody(req, history, t.input)
	if err != nil {
		return nil, apierr.Invalid("input", openai.CodeInvalidValue, "the input cannot be sent to the model")
	}
	chatReq, aerr := openai.ParseChatRequest(body)
	if aerr != nil {
		// The input passed this package's validation; what the chat
		// validation still refuses (an empty conversation, say) is the
		// client's input.
		return nil, aerr
	}
	adj := openai.Adjustment{Temperature: model.DefaultTemperature, TopP: model.DefaultTopP, SystemMessages: system}
	t.temperature, t.topP = req.Temperature, req.TopP
	if t.temperature == nil {
		t.temperature = model.DefaultTemperature
	}
	if t.topP == nil {
		t.topP = model.DefaultTopP
	}
	if h.Media != nil {
		messages, changed, aerr := h.Media.ResolveMessages(ctx, r, body)
		if aerr == nil && changed {
			aerr = openai.ValidateMessages(messages)
		}
		if aerr != nil {
			return nil, aerr
		}
		if changed {
			adj.Messages = messages
		}
	}
	adj.DropTools = chatReq.HasToolMembers() && !h.toolsEnabled(r, p)
	body = chatReq.Adjust(body, adj)
	t.upstream = &provider.Request{
		Body:        body,
		Chat:        chatReq,
		Model:       model,
		TraceParent: r.Header.Get("Traceparent"),
		TraceState:  r.Header.Get("Tracestate"),
		RequestID:   r.Header.Get("X-Request-Id"),
	}
	return t, nil
}

// beginConversation begins the turn in the request's conversation: it
// checks that the conversation is the caller's, reads its newest items as
// the context, and appends the input's messages when the response is
// stored. It returns the context and the system messages of the
// conversation's project and the user's profile.
func (h *Handler) beginConversation(ctx context.Context, t *turn) ([]Item, []string, *apierr.Error) {
	req := t.req
	var stored []store.Item
	var title string
	for i, it := range t.input {
		s, ok := storedItem(it)
		if !ok {
			continue
		}
		if req.Store {
			if err := conversation.ValidateContent(s.Content); err != nil {
				return nil, nil, apierr.Invalid(req.InputParams[i]+".content", openai.CodeInvalidValue, err.Error())
			}
		}
		if title == "" && it.Role == conversation.RoleUser {
			title = conversation.WithoutNUL(conversation.TitleFrom(replyOf([]Item{it}, false).Text))
		}
		stored = append(stored, s)
	}
	rec := conversation.Recorder{Store: h.Store, Memory: h.Memory}
	recording, err := rec.Begin(ctx, conversation.Turn{
		UserID: t.userID, ConversationID: req.Conversation, Write: req.Store, Title: title,
		UserText: newUserText(t.input),
	})
	if err != nil {
		return nil, nil, h.storeError(ctx, err, "conversation")
	}
	if err := recording.TitleError(); err != nil {
		h.logger().Warn("titling a conversation failed", zap.String("conversation", req.Conversation), zap.Error(err))
	}
	t.conv = recording
	page, err := h.Store.ListItems(ctx, t.userID, req.Conversation, store.ListOptions{
		Limit: MaxConversationContext, Order: store.OrderDesc, MaxBytes: store.MaxResponseChainBytes,
	})
	if err != nil {
		return nil, nil, h.storeError(ctx, err, "conversation")
	}
	slices.Reverse(page.Items)
	if req.Store && len(stored) > 0 {
		added, err := h.Store.AppendItems(ctx, t.userID, req.Conversation, stored)
		if err != nil {
			return nil, nil, h.storeError(ctx, err, "conversation")
		}
		for _, it := range added {
			t.convItems = append(t.convItems, it.PublicID)
		}
	}
	return conversationItems(page.Items), recording.SystemMessages(), nil
}

// newUserText is the text of the turn's new user message, which memory
// recalls for: the last input item's when it is a user message (as chat's
// last message), "" otherwise (the input ends with a tool's output, say).
func newUserText(input []Item) string {
	if len(input) == 0 {
		return ""
	}
	last := input[len(input)-1]
	if last.Type != ItemMessage || last.Role != conversation.RoleUser {
		return ""
	}
	return replyOf([]Item{last}, false).Text
}

// storeError answers a store error met while beginning a turn: 404 naming
// param for a record that is not the caller's, 503 when the database is
// unavailable, 499 when the client went away, 500 (logged) otherwise.
func (h *Handler) storeError(ctx context.Context, err error, param string) *apierr.Error {
	if errors.Is(err, store.ErrNotFound) {
		what := "response"
		if param == "conversation" {
			what = "conversation"
		}
		return apierr.NotFound(what).WithParam(param)
	}
	if aerr := httpx.StoreError(err, param); aerr != nil {
		return aerr
	}
	if ctx.Err() != nil {
		return apierr.New(apierr.StatusClientClosed, provider.CodeClientClosed, "the client closed the request")
	}
	h.logger().Error("beginning a response failed", zap.Error(err))
	return apierr.New(http.StatusInternalServerError, "internal_error", "internal error")
}

// toolsEnabled reports whether the principal's requests may offer tools;
// when the setting cannot be read, tools stay on (as for chat).
func (h *Handler) toolsEnabled(r *http.Request, p *principal.Principal) bool {
	if h.Tools == nil {
		return true
	}
	on, err := h.Tools.ToolsEnabled(r.Context(), p.UserID)
	if err != nil {
		return true
	}
	return on
}

// withIDs returns the input items with ids of their own: "msg_…" for
// messages, "fc_…" for function calls, "fco_…" for their outputs.
func withIDs(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		prefix := store.PrefixMessage
		switch it.Type {
		case ItemFunctionCall:
			prefix = prefixFunctionCall
		case ItemFunctionCallOutput:
			prefix = prefixFunctionOutput
		}
		it.ID = store.NewPublicID(prefix)
		out[i] = it
	}
	return out
}

// storedItems reads a stored response's input and output items.
func storedItems(r store.Response) (input, output []Item, err error) {
	if err := json.Unmarshal(r.Input, &input); err != nil {
		return nil, nil, err
	}
	var body struct {
		Output []Item `json:"output"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, nil, err
	}
	return input, body.Output, nil
}

// response returns the Response object of the turn with the output so far.
func (t *turn) response(status string, output []Item, incomplete *IncompleteDetails) *Response {
	req := t.req
	if output == nil {
		output = []Item{}
	}
	resp := &Response{
		ID:                t.id,
		Object:            "response",
		CreatedAt:         t.created,
		Status:            status,
		IncompleteDetails: incomplete,
		Instructions:      req.Instructions,
		Model:             t.model,
		Output:            output,
		ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls,
		Store:             req.Store,
		Temperature:       t.temperature,
		Text:              req.Text,
		ToolChoice:        req.ToolChoice,
		Tools:             req.Tools,
		TopP:              t.topP,
		Truncation:        "disabled",
		User:              req.User,
		Metadata:          req.Metadata,
	}
	if resp.Metadata == nil {
		resp.Metadata = map[string]string{}
	}
	if req.MaxOutputTokens > 0 {
		n := req.MaxOutputTokens
		resp.MaxOutputTokens = &n
	}
	if req.PreviousResponseID != "" {
		id := req.PreviousResponseID
		resp.PreviousResponseID = &id
	}
	if t.conv != nil {
		resp.Conversation = &ConversationRef{ID: t.conv.Conversation().ID}
	}
	if status != StatusInProgress {
		now := time.Now().Unix()
		resp.CompletedAt = &now
	}
	return resp
}

// finish records an ended response within ReplyWriteTimeout, on a context
// that outlives the request's: the output is appended to the conversation
// (an assistant message, incomplete when the answer was cut) and the
// response stored when it asked to be. It returns the Response object's
// JSON, marshalled once for the store and the client. Failures to record
// are logged: the answer is still sent.
func (h *Handler) finish(r *http.Request, o *chat.Outcome, t *turn, resp *Response) []byte {
	timeout := h.ReplyWriteTimeout
	if timeout <= 0 {
		timeout = chat.DefaultReplyWriteTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	if t.conv != nil && t.req.Store && len(resp.Output) > 0 {
		reply := replyOf(resp.Output, resp.Status != StatusCompleted)
		added, err := h.Store.AppendItems(ctx, t.userID, t.conv.Conversation().ID, []store.Item{conversation.AssistantItem(reply)})
		if err != nil {
			h.logger().Warn("appending a response to its conversation failed", zap.String("model", o.Model), zap.Error(err))
		} else {
			t.conv.Observe(reply)
		}
		for _, it := range added {
			t.convItems = append(t.convItems, it.PublicID)
		}
	}
	body := marshalResponse(resp)
	if !t.req.Store {
		return body
	}
	rec := store.Response{
		PublicID: t.id, UserID: t.userID, PreviousResponseID: t.req.PreviousResponseID,
		ConversationItemIDs: t.convItems, Model: t.model, Status: resp.Status, Body: body, Input: marshal(wireItems(t.input)),
	}
	if t.conv != nil {
		rec.ConversationID = t.conv.Conversation().ID
	}
	if _, err := h.Store.CreateResponse(ctx, rec); err != nil {
		h.logger().Warn("storing a response failed", zap.String("model", o.Model), zap.String("status", resp.Status), zap.Error(err))
	}
	return body
}

// marshalResponse returns the Response object's JSON.
func marshalResponse(resp *Response) []byte {
	resp.WireOutput = wireItems(resp.Output)
	return marshal(resp)
}

// marshal returns v as JSON, HTML characters unescaped as every answer of
// the API writes them (httpx.WriteJSON). The values marshalled here are
// made of strings, numbers and raw JSON the gateway validated: they always
// marshal.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
