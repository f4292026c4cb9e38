package openai

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/jsonguard"
)

// DecodeChatRequest decodes a request body in full. Call it only on a body
// that ParseChatRequest accepted: it reads members exactly as validation did
// (exact, case-sensitive names), which encoding/json would not (it matches
// names case-insensitively and lets the last duplicate win), so that what a
// translating provider sees is what was validated.
func DecodeChatRequest(body []byte) (*ChatCompletionRequest, error) {
	if !jsonguard.WithinDepth(body) {
		return nil, errors.New("decoding chat request: body nests too deeply")
	}
	if !gjson.ValidBytes(body) {
		return nil, errors.New("decoding chat request: body is not valid JSON")
	}
	// ParseBytes copies the body once, so the decoded strings own their
	// memory and may outlive it.
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, errors.New("decoding chat request: body is not a JSON object")
	}
	r := &ChatCompletionRequest{}
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			r.Model = v.Str
		case "messages":
			r.Messages, err = decodeMessages(v)
		case "max_tokens":
			r.MaxTokens = int(v.Int())
		case "max_completion_tokens":
			r.MaxCompletionTokens = int(v.Int())
		case "temperature":
			r.Temperature = optionalFloat(v)
		case "top_p":
			r.TopP = optionalFloat(v)
		case "stop":
			r.Stop = decodeStop(v)
		case "stream":
			r.Stream = v.Type == gjson.True
		case "stream_options":
			r.IncludeUsage = v.IsObject() && v.Get("include_usage").Type == gjson.True
		case "tools":
			r.Tools, err = decodeTools(v)
		case "tool_choice":
			if v.Type != gjson.Null {
				r.ToolChoice = json.RawMessage(v.Raw)
			}
		case "parallel_tool_calls":
			if v.Type == gjson.True || v.Type == gjson.False {
				b := v.Type == gjson.True
				r.ParallelToolCalls = &b
			}
		case "user":
			r.User = v.Str
		}
		return err == nil
	})
	if err != nil {
		return nil, fmt.Errorf("decoding chat request: %w", err)
	}
	return r, nil
}

func optionalFloat(v gjson.Result) *float64 {
	if v.Type != gjson.Number {
		return nil
	}
	f := v.Num
	return &f
}

func decodeStop(v gjson.Result) []string {
	switch {
	case v.Type == gjson.String:
		return []string{v.Str}
	case v.IsArray():
		var out []string
		v.ForEach(func(_, s gjson.Result) bool {
			out = append(out, s.Str)
			return true
		})
		return out
	}
	return nil
}

func decodeMessages(v gjson.Result) ([]Message, error) {
	if !v.IsArray() {
		return nil, errors.New("messages is not an array")
	}
	var (
		out []Message
		err error
	)
	v.ForEach(func(_, m gjson.Result) bool {
		if !m.IsObject() {
			err = errors.New("a message is not an object")
			return false
		}
		msg := Message{Content: Content{IsNull: true}}
		m.ForEach(func(k, f gjson.Result) bool {
			switch k.Str {
			case "role":
				msg.Role = f.Str
			case "name":
				msg.Name = f.Str
			case "tool_call_id":
				msg.ToolCallID = f.Str
			case "content":
				msg.Content = decodeContent(f)
			case "tool_calls":
				msg.ToolCalls = decodeToolCalls(f)
			}
			return true
		})
		out = append(out, msg)
		return true
	})
	return out, err
}

func decodeContent(f gjson.Result) Content {
	switch {
	case f.Type == gjson.String:
		return Content{Text: f.Str}
	case f.IsArray():
		c := Content{IsParts: true, Parts: []ContentPart{}}
		f.ForEach(func(_, p gjson.Result) bool {
			part := ContentPart{Type: p.Get("type").Str}
			switch part.Type {
			case PartText:
				part.Text = p.Get("text").Str
			case PartImageURL:
				img := p.Get("image_url")
				part.ImageURL = &ImageURL{URL: img.Get("url").Str, Detail: img.Get("detail").Str}
			case PartRefusal:
				part.Refusal = p.Get("refusal").Str
			}
			c.Parts = append(c.Parts, part)
			return true
		})
		return c
	}
	return Content{IsNull: true}
}

func decodeToolCalls(f gjson.Result) []ToolCall {
	if !f.IsArray() {
		return nil
	}
	var out []ToolCall
	f.ForEach(func(_, tc gjson.Result) bool {
		fn := tc.Get("function")
		out = append(out, ToolCall{
			ID:   tc.Get("id").Str,
			Type: tc.Get("type").Str,
			Function: FunctionCall{
				Name:      fn.Get("name").Str,
				Arguments: fn.Get("arguments").Str,
			},
		})
		return true
	})
	return out
}

func decodeTools(v gjson.Result) ([]Tool, error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, errors.New("tools is not an array")
	}
	var out []Tool
	v.ForEach(func(_, t gjson.Result) bool {
		fn := t.Get("function")
		tool := Tool{
			Type: t.Get("type").Str,
			Function: FunctionDef{
				Name:        fn.Get("name").Str,
				Description: fn.Get("description").Str,
			},
		}
		if p := fn.Get("parameters"); p.IsObject() {
			tool.Function.Parameters = json.RawMessage(p.Raw)
		}
		if s := fn.Get("strict"); s.Type == gjson.True || s.Type == gjson.False {
			b := s.Type == gjson.True
			tool.Function.Strict = &b
		}
		out = append(out, tool)
		return true
	})
	return out, nil
}
