package responses

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// parseTools reads function tools and converts them to chat tools. Other
// tool kinds (web search, file search, …) are OpenAI's hosted tools, which
// a chat completions upstream does not have.
func (req *Request) parseTools(v gjson.Result) *apierr.Error {
	if v.Type == gjson.Null {
		return nil
	}
	if !v.IsArray() {
		return openai.ErrType("tools", "an array")
	}
	var err *apierr.Error
	i := 0
	v.ForEach(func(_, t gjson.Result) bool {
		param := indexParam("tools", i)
		i++
		if i > MaxTools {
			err = openai.ErrValue("tools", "can have at most "+strconv.Itoa(MaxTools)+" tools")
			return false
		}
		if !t.IsObject() {
			err = openai.ErrType(param, "an object")
			return false
		}
		typ := t.Get("type")
		if typ.Type != gjson.String {
			err = openai.ErrType(param+".type", "a string")
			return false
		}
		if typ.Str != "function" {
			err = errUnsupported(param+".type", "must be function: only function tools reach this model")
			return false
		}
		var fn struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Parameters  json.RawMessage `json:"parameters,omitempty"`
			Strict      *bool           `json:"strict,omitempty"`
		}
		fn.Type = "function"
		t.ForEach(func(k, f gjson.Result) bool {
			switch k.Str {
			case "type":
			case "name":
				if f.Type != gjson.String || f.Str == "" {
					err = openai.ErrType(param+".name", "a non-empty string")
				}
				fn.Name = strings.Clone(f.Str)
			case "description":
				if f.Type != gjson.String && f.Type != gjson.Null {
					err = openai.ErrType(param+".description", "a string")
				}
				fn.Description = strings.Clone(f.Str)
			case "parameters":
				if !f.IsObject() && f.Type != gjson.Null {
					err = openai.ErrType(param+".parameters", "an object")
				} else if f.IsObject() {
					fn.Parameters = json.RawMessage(strings.Clone(f.Raw))
				}
			case "strict":
				if f.Type != gjson.True && f.Type != gjson.False && f.Type != gjson.Null {
					err = openai.ErrType(param+".strict", "a boolean")
				} else if f.Type != gjson.Null {
					b := f.Type == gjson.True
					fn.Strict = &b
				}
			default:
				err = errUnknown(param + "." + k.Str)
			}
			return err == nil
		})
		if err == nil && fn.Name == "" {
			err = openai.ErrMissing(param + ".name")
		}
		if err != nil {
			return false
		}
		echo, _ := json.Marshal(fn)
		chat, _ := json.Marshal(openai.Tool{Type: "function", Function: openai.FunctionDef{
			Name: fn.Name, Description: fn.Description, Parameters: fn.Parameters, Strict: fn.Strict,
		}})
		req.Tools = append(req.Tools, echo)
		req.ChatTools = append(req.ChatTools, chat)
		return true
	})
	return err
}

// parseToolChoice reads "none", "auto", "required" or {"type": "function",
// "name": …}.
func (req *Request) parseToolChoice(v gjson.Result) *apierr.Error {
	switch {
	case v.Type == gjson.Null:
		return nil
	case v.Type == gjson.String:
		switch v.Str {
		case "none", "auto", "required":
			req.ToolChoice = json.RawMessage(strings.Clone(v.Raw))
			req.ChatToolChoice = req.ToolChoice
			return nil
		}
		return openai.ErrValue("tool_choice", `must be "none", "auto", "required" or an object`)
	case v.IsObject():
		typ, name := v.Get("type"), v.Get("name")
		if typ.Type != gjson.String {
			return openai.ErrType("tool_choice.type", "a string")
		}
		if typ.Str != "function" {
			return errUnsupported("tool_choice.type", "must be function")
		}
		if name.Type != gjson.String || name.Str == "" {
			return openai.ErrType("tool_choice.name", "a non-empty string")
		}
		req.ToolChoice, _ = json.Marshal(map[string]string{"type": "function", "name": name.Str})
		req.ChatToolChoice, _ = json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": name.Str}})
		return nil
	}
	return openai.ErrType("tool_choice", `"none", "auto", "required" or an object`)
}
