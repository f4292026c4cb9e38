package anthropic

import (
	"encoding/json"
	"errors"
	"strings"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// messagesRequest is a Messages API request.
type messagesRequest struct {
	Model         string      `json:"model"`
	System        string      `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	MaxTokens     int         `json:"max_tokens"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
}

type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is a content block of any type; unused fields stay empty.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *imageSource    `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   string          `json:"content,omitempty"`
}

type imageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

// maxTemperature is Anthropic's upper bound; OpenAI's goes to 2.
const maxTemperature = 1.0

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// translateRequest turns a chat completions request into a Messages request:
// system and developer messages become the system prompt, tool results
// become user messages of tool_result blocks, consecutive messages of one
// role are merged (the API wants them alternating), and the parameters map
// to their Anthropic names.
func translateRequest(r *wire.ChatCompletionRequest, model string, maxTokens int, stream bool) ([]byte, error) {
	out := messagesRequest{
		Model:         model,
		MaxTokens:     maxTokens,
		StopSequences: r.Stop,
		Stream:        stream,
	}
	// top_p 1 samples from the whole distribution, as no top_p does. It is
	// left out because recent Claude models refuse temperature and top_p
	// together, and the gateway sends the spec's defaults (0.7 and 1.0) for
	// requests that omit both.
	if r.TopP != nil && *r.TopP < 1 {
		out.TopP = r.TopP
	}
	if r.Temperature != nil {
		t := min(*r.Temperature, maxTemperature)
		out.Temperature = &t
	}
	if r.User != "" {
		out.Metadata = &metadata{UserID: r.User}
	}

	var system []string
	for _, m := range r.Messages {
		var (
			role   string
			blocks []block
			err    error
		)
		switch m.Role {
		case wire.RoleSystem, wire.RoleDeveloper:
			if text := m.Content.PlainText(); text != "" {
				system = append(system, text)
			}
			continue
		case wire.RoleUser:
			role = "user"
			blocks, err = userBlocks(m.Content)
		case wire.RoleAssistant:
			role = "assistant"
			blocks, err = assistantBlocks(m)
		case wire.RoleTool:
			role = "user"
			blocks = []block{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Content.PlainText()}}
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(blocks) == 0 {
			continue
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, message{Role: role, Content: blocks})
	}
	out.System = strings.Join(system, "\n\n")

	for _, t := range r.Tools {
		if t.Type != "function" {
			continue
		}
		schema := t.Function.Parameters
		if len(schema) == 0 {
			schema = emptySchema
		}
		out.Tools = append(out.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	if err := setToolChoice(&out, r); err != nil {
		return nil, err
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: err}
	}
	return body, nil
}

func userBlocks(c wire.Content) ([]block, error) {
	if !c.IsParts {
		if c.Text == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: c.Text}}, nil
	}
	blocks := make([]block, 0, len(c.Parts))
	for _, p := range c.Parts {
		switch p.Type {
		case wire.PartText:
			if p.Text != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Text})
			}
		case wire.PartImageURL:
			src, err := imageFrom(p.ImageURL)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, block{Type: "image", Source: src})
		}
	}
	return blocks, nil
}

// imageFrom maps an image_url to an image source: data: URLs become base64
// sources, other URLs url sources.
func imageFrom(img *wire.ImageURL) (*imageSource, error) {
	if img == nil || img.URL == "" {
		return nil, badRequest("image_url.url is empty")
	}
	rest, ok := strings.CutPrefix(img.URL, "data:")
	if !ok {
		return &imageSource{Type: "url", URL: img.URL}, nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isBase64 || mediaType == "" {
		return nil, badRequest("image data URLs must be base64 encoded with a media type")
	}
	return &imageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
}

func assistantBlocks(m wire.Message) ([]block, error) {
	var blocks []block
	if text := m.Content.PlainText(); text != "" {
		blocks = append(blocks, block{Type: "text", Text: text})
	}
	for _, tc := range m.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if strings.TrimSpace(tc.Function.Arguments) == "" {
			input = json.RawMessage(`{}`)
		} else if !json.Valid(input) || !strings.HasPrefix(strings.TrimSpace(tc.Function.Arguments), "{") {
			return nil, badRequest("tool call arguments must be a JSON object")
		}
		blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return blocks, nil
}

// setToolChoice maps tool_choice and parallel_tool_calls.
func setToolChoice(out *messagesRequest, r *wire.ChatCompletionRequest) error {
	var tc *toolChoice
	if len(r.ToolChoice) > 0 {
		var word string
		if json.Unmarshal(r.ToolChoice, &word) == nil {
			switch word {
			case "none":
				tc = &toolChoice{Type: "none"}
			case "auto":
				tc = &toolChoice{Type: "auto"}
			case "required":
				tc = &toolChoice{Type: "any"}
			}
		} else {
			var named struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(r.ToolChoice, &named); err != nil || named.Function.Name == "" {
				return badRequest("tool_choice must name a function")
			}
			tc = &toolChoice{Type: "tool", Name: named.Function.Name}
		}
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls && len(out.Tools) > 0 {
		if tc == nil {
			tc = &toolChoice{Type: "auto"}
		}
		if tc.Type != "none" {
			tc.DisableParallelToolUse = true
		}
	}
	if len(out.Tools) == 0 && tc != nil && tc.Type != "none" {
		tc = nil // Anthropic refuses a tool choice without tools
	}
	out.ToolChoice = tc
	return nil
}

func badRequest(msg string) *provider.Error {
	return &provider.Error{Kind: provider.KindBadRequest, Message: msg, Err: errors.New(msg)}
}
