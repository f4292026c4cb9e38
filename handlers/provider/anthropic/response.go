package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// messagesResponse is a Messages API answer.
type messagesResponse struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Content    []responseBlock `json:"content"`
	StopReason string          `json:"stop_reason"`
	Usage      usage           `json:"usage"`
}

type responseBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// promptTokens counts every input token, cached or not, as OpenAI's
// prompt_tokens does.
func (u usage) promptTokens() int {
	return u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// finishReason maps a Messages stop reason to a chat completions one.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens":
		return wire.FinishLength
	case "tool_use":
		return wire.FinishToolCalls
	case "refusal":
		return wire.FinishContentFilter
	}
	return wire.FinishStop // end_turn, stop_sequence, pause_turn
}

// ChatCompletion sends a request without stream and translates the answer.
func (p *Provider) ChatCompletion(ctx context.Context, req *provider.Request) (*provider.Completion, error) {
	ctx, wd := provider.NewWatchdog(ctx, p.cfg.FirstByteTimeout)
	defer wd.Stop()
	hreq, _, err := p.newRequest(ctx, req, false)
	if err != nil {
		return nil, err
	}
	body, err := upstream.Fetch(ctx, p.client, hreq, wd, p.cfg.IdleTimeout, req.UpstreamModel, req.Model.ID, p.cfg.APIKey)
	if err != nil {
		return nil, err
	}
	var m messagesResponse
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "message" {
		return nil, &provider.Error{Kind: provider.KindServer, Status: http.StatusOK, Err: errors.New("upstream answer is not a message")}
	}
	out, u, err := translateResponse(&m, req.Model.ID, time.Now().Unix())
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: err}
	}
	return &provider.Completion{Body: out, Usage: u, HasUsage: true}, nil
}

// translateResponse renders a Messages answer as a chat.completion.
func translateResponse(m *messagesResponse, model string, created int64) ([]byte, wire.Usage, error) {
	msg := wire.ResponseMessage{Role: wire.RoleAssistant}
	var text strings.Builder
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args := string(b.Input)
			if args == "" || args == "null" {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, wire.ToolCall{
				ID:       b.ID,
				Type:     "function",
				Function: wire.FunctionCall{Name: b.Name, Arguments: args},
			})
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	u := wire.Usage{PromptTokens: m.Usage.promptTokens(), CompletionTokens: m.Usage.OutputTokens}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	body, err := json.Marshal(wire.ChatCompletion{
		ID:      completionID(m.ID),
		Object:  wire.ObjectChatCompletion,
		Created: created,
		Model:   model,
		Choices: []wire.Choice{{Index: 0, Message: msg, FinishReason: finishReason(m.StopReason)}},
		Usage:   &u,
	})
	return body, u, err
}

// completionID derives a chat completion id from a message id.
func completionID(messageID string) string {
	if messageID == "" {
		return "chatcmpl-anthropic"
	}
	return "chatcmpl-" + messageID
}
