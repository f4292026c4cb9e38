package responses

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/internal/bytesconv"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// Bounds of a request, beside the body size: what a client can make the
// gateway hold, convert and store per request.
const (
	MaxInputItems       = 1000
	MaxPartsPerMessage  = 100
	MaxTools            = 128
	MaxMetadataPairs    = 16
	MaxMetadataKeyLen   = 64
	MaxMetadataValueLen = 512
	MaxIDLength         = 128
)

// Request is a validated POST /v1/responses body.
type Request struct {
	Model string
	// Input are the request's input items, ids not yet given.
	Input []Item
	// InputParams names each input item's parameter ("input[3]"), for
	// errors found after parsing.
	InputParams        []string
	Instructions       *string
	PreviousResponseID string
	Conversation       string
	Store              bool
	Stream             bool
	// Tools are the function tools in the Responses shape (echoed in the
	// Response) and ChatTools the same in the chat completions shape.
	Tools     []json.RawMessage
	ChatTools []json.RawMessage
	// ToolChoice is echoed; ChatToolChoice is sent upstream (nil: none).
	ToolChoice        json.RawMessage
	ChatToolChoice    json.RawMessage
	ParallelToolCalls *bool
	MaxOutputTokens   int
	Temperature       *float64
	TopP              *float64
	// Text is the text configuration echoed; ResponseFormat the chat
	// completions response_format it becomes (nil for plain text).
	Text           json.RawMessage
	ResponseFormat json.RawMessage
	Metadata       map[string]string
	User           *string
	// HasImage and ImageParam name the first input_image part.
	HasImage   bool
	ImageParam string
}

// ignoredMembers are parameters of OpenAI's API that the gateway accepts
// and does not act on: they change nothing a chat completions upstream can
// do (include, reasoning, truncation, caching and service hints).
var ignoredMembers = map[string]bool{
	"include": true, "reasoning": true, "truncation": true, "prompt_cache_key": true,
	"prompt_cache_retention": true, "safety_identifier": true, "service_tier": true,
	"stream_options": true, "top_logprobs": true, "max_tool_calls": true,
}

// ParseRequest validates a request body and returns what it asks for.
// Errors are 400s in the spec's shape naming the parameter at fault. The
// body's nesting is bounded (jsonguard) before gjson reads it.
func ParseRequest(body []byte) (*Request, *apierr.Error) {
	if aerr := jsonguard.Check(body); aerr != nil {
		return nil, aerr
	}
	if !gjson.ValidBytes(body) {
		return nil, errInvalidJSON("request body is not valid JSON")
	}
	if !utf8.Valid(body) {
		return nil, errInvalidJSON("request body is not valid UTF-8")
	}
	root := gjson.Parse(bytesconv.String(body))
	if !root.IsObject() {
		return nil, errInvalidJSON("request body must be a JSON object")
	}
	req := &Request{Store: true}
	var (
		err      *apierr.Error
		seen     = make(map[string]bool, 16)
		hasModel bool
		hasInput bool
	)
	root.ForEach(func(k, v gjson.Result) bool {
		if seen[k.Str] {
			err = errDuplicate(k.Str)
			return false
		}
		seen[k.Str] = true
		switch k.Str {
		case "model":
			hasModel = true
			req.Model, err = requiredString(v, "model")
		case "input":
			hasInput = v.Type != gjson.Null
			err = req.parseInput(v)
		case "instructions":
			if v.Type != gjson.Null {
				var s string
				s, err = requiredString(v, "instructions")
				req.Instructions = &s
			}
		case "previous_response_id":
			req.PreviousResponseID, err = optionalID(v, "previous_response_id")
		case "conversation":
			req.Conversation, err = parseConversation(v)
		case "store":
			req.Store, err = optionalBool(v, "store", true)
		case "stream":
			req.Stream, err = optionalBool(v, "stream", false)
		case "background":
			var bg bool
			if bg, err = optionalBool(v, "background", false); err == nil && bg {
				err = errUnsupported("background", "is not supported: responses are answered in the request")
			}
		case "tools":
			err = req.parseTools(v)
		case "tool_choice":
			err = req.parseToolChoice(v)
		case "parallel_tool_calls":
			if v.Type != gjson.Null {
				var b bool
				b, err = optionalBool(v, "parallel_tool_calls", true)
				req.ParallelToolCalls = &b
			}
		case "max_output_tokens":
			req.MaxOutputTokens, err = optionalTokens(v, "max_output_tokens")
		case "temperature":
			req.Temperature, err = optionalRange(v, "temperature", openai.MinTemperature, openai.MaxTemperature)
		case "top_p":
			req.TopP, err = optionalRange(v, "top_p", openai.MinTopP, openai.MaxTopP)
		case "text":
			err = req.parseText(v)
		case "metadata":
			req.Metadata, err = parseMetadata(v)
		case "user":
			if v.Type != gjson.Null {
				var s string
				s, err = requiredString(v, "user")
				req.User = &s
			}
		default:
			if !ignoredMembers[k.Str] {
				err = errUnknown(k.Str)
			}
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if !hasModel {
		return nil, errMissing("model")
	}
	if !hasInput && req.PreviousResponseID == "" && req.Conversation == "" {
		return nil, errMissing("input")
	}
	if req.PreviousResponseID != "" && req.Conversation != "" {
		return nil, apierr.Invalid("conversation", openai.CodeInvalidParameter,
			"conversation and previous_response_id cannot be used together")
	}
	if req.ToolChoice == nil {
		req.ToolChoice = json.RawMessage(`"auto"`)
	}
	if req.Text == nil {
		req.Text = json.RawMessage(`{"format":{"type":"text"}}`)
	}
	if req.Tools == nil {
		req.Tools = []json.RawMessage{}
	}
	return req, nil
}

func requiredString(v gjson.Result, param string) (string, *apierr.Error) {
	if v.Type != gjson.String {
		return "", errType(param, "a string")
	}
	return strings.Clone(v.Str), nil
}

// optionalID reads an id: a non-empty string of at most MaxIDLength bytes,
// or null.
func optionalID(v gjson.Result, param string) (string, *apierr.Error) {
	if v.Type == gjson.Null {
		return "", nil
	}
	if v.Type != gjson.String || v.Str == "" {
		return "", errType(param, "a non-empty string")
	}
	if len(v.Str) > MaxIDLength {
		return "", errValue(param, "is too long")
	}
	return strings.Clone(v.Str), nil
}

func optionalBool(v gjson.Result, param string, def bool) (bool, *apierr.Error) {
	switch v.Type {
	case gjson.True:
		return true, nil
	case gjson.False:
		return false, nil
	case gjson.Null:
		return def, nil
	}
	return false, errType(param, "a boolean")
}

func optionalTokens(v gjson.Result, param string) (int, *apierr.Error) {
	if v.Type == gjson.Null {
		return 0, nil
	}
	if v.Type != gjson.Number || strings.ContainsAny(v.Raw, ".eE") {
		return 0, errType(param, "an integer")
	}
	n, perr := strconv.ParseInt(v.Raw, 10, 64)
	if perr != nil || n < 1 || n > 1<<31-1 {
		return 0, errValue(param, "must be at least 1")
	}
	return int(n), nil
}

func optionalRange(v gjson.Result, param string, lo, hi float64) (*float64, *apierr.Error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if v.Type != gjson.Number {
		return nil, errType(param, "a number")
	}
	if !(v.Num >= lo && v.Num <= hi) {
		return nil, errValue(param, "must be between "+strconv.FormatFloat(lo, 'f', -1, 64)+" and "+strconv.FormatFloat(hi, 'f', -1, 64))
	}
	f := v.Num
	return &f, nil
}

// parseConversation reads "conversation": an id or {"id": …}.
func parseConversation(v gjson.Result) (string, *apierr.Error) {
	switch {
	case v.Type == gjson.Null:
		return "", nil
	case v.Type == gjson.String:
		return optionalID(v, "conversation")
	case v.IsObject():
		return optionalID(v.Get("id"), "conversation.id")
	}
	return "", errType("conversation", "a string or an object with an id")
}

// parseMetadata reads up to MaxMetadataPairs string pairs.
func parseMetadata(v gjson.Result) (map[string]string, *apierr.Error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, errType("metadata", "an object of strings")
	}
	m := make(map[string]string)
	var err *apierr.Error
	v.ForEach(func(k, val gjson.Result) bool {
		param := "metadata." + k.Str
		switch {
		case len(m) == MaxMetadataPairs:
			err = errValue("metadata", "can have at most "+strconv.Itoa(MaxMetadataPairs)+" pairs")
		case utf8.RuneCountInString(k.Str) > MaxMetadataKeyLen:
			err = errValue("metadata", "keys can be at most "+strconv.Itoa(MaxMetadataKeyLen)+" characters long")
		case val.Type != gjson.String:
			err = errType(param, "a string")
		case utf8.RuneCountInString(val.Str) > MaxMetadataValueLen:
			err = errValue(param, "can be at most "+strconv.Itoa(MaxMetadataValueLen)+" characters long")
		default:
			m[strings.Clone(k.Str)] = strings.Clone(val.Str)
		}
		return err == nil
	})
	return m, err
}

// parseTools reads function tools and converts them to chat tools. Other
// tool kinds (web search, file search, …) are OpenAI's hosted tools, which
// a chat completions upstream does not have.
func (req *Request) parseTools(v gjson.Result) *apierr.Error {
	if v.Type == gjson.Null {
		return nil
	}
	if !v.IsArray() {
		return errType("tools", "an array")
	}
	var err *apierr.Error
	i := 0
	v.ForEach(func(_, t gjson.Result) bool {
		param := indexParam("tools", i)
		i++
		if i > MaxTools {
			err = errValue("tools", "can have at most "+strconv.Itoa(MaxTools)+" tools")
			return false
		}
		if !t.IsObject() {
			err = errType(param, "an object")
			return false
		}
		typ := t.Get("type")
		if typ.Type != gjson.String {
			err = errType(param+".type", "a string")
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
					err = errType(param+".name", "a non-empty string")
				}
				fn.Name = strings.Clone(f.Str)
			case "description":
				if f.Type != gjson.String && f.Type != gjson.Null {
					err = errType(param+".description", "a string")
				}
				fn.Description = strings.Clone(f.Str)
			case "parameters":
				if !f.IsObject() && f.Type != gjson.Null {
					err = errType(param+".parameters", "an object")
				} else if f.IsObject() {
					fn.Parameters = json.RawMessage(strings.Clone(f.Raw))
				}
			case "strict":
				if f.Type != gjson.True && f.Type != gjson.False && f.Type != gjson.Null {
					err = errType(param+".strict", "a boolean")
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
			err = errMissing(param + ".name")
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
		return errValue("tool_choice", `must be "none", "auto", "required" or an object`)
	case v.IsObject():
		typ, name := v.Get("type"), v.Get("name")
		if typ.Type != gjson.String {
			return errType("tool_choice.type", "a string")
		}
		if typ.Str != "function" {
			return errUnsupported("tool_choice.type", "must be function")
		}
		if name.Type != gjson.String || name.Str == "" {
			return errType("tool_choice.name", "a non-empty string")
		}
		req.ToolChoice, _ = json.Marshal(map[string]string{"type": "function", "name": name.Str})
		req.ChatToolChoice, _ = json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": name.Str}})
		return nil
	}
	return errType("tool_choice", `"none", "auto", "required" or an object`)
}

// parseText reads text.format and converts it to a chat response_format:
// json_object as it is, json_schema with its name, schema, description and
// strict moved under "json_schema".
func (req *Request) parseText(v gjson.Result) *apierr.Error {
	if v.Type == gjson.Null {
		return nil
	}
	if !v.IsObject() {
		return errType("text", "an object")
	}
	var err *apierr.Error
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "format":
			err = req.parseFormat(f)
		case "verbosity":
			if f.Type != gjson.String && f.Type != gjson.Null {
				err = errType("text.verbosity", "a string")
			}
		default:
			err = errUnknown("text." + k.Str)
		}
		return err == nil
	})
	if err == nil {
		req.Text = json.RawMessage(strings.Clone(v.Raw))
	}
	return err
}

func (req *Request) parseFormat(f gjson.Result) *apierr.Error {
	if f.Type == gjson.Null {
		return nil
	}
	if !f.IsObject() {
		return errType("text.format", "an object")
	}
	typ := f.Get("type")
	if typ.Type != gjson.String {
		return errType("text.format.type", "a string")
	}
	switch typ.Str {
	case "text":
		return nil
	case "json_object":
		req.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
		return nil
	case "json_schema":
	default:
		return errValue("text.format.type", "must be text, json_object or json_schema")
	}
	name, schema, desc, strict := f.Get("name"), f.Get("schema"), f.Get("description"), f.Get("strict")
	if name.Type != gjson.String || name.Str == "" {
		return errType("text.format.name", "a non-empty string")
	}
	if !schema.IsObject() {
		return errType("text.format.schema", "an object")
	}
	if desc.Exists() && desc.Type != gjson.String && desc.Type != gjson.Null {
		return errType("text.format.description", "a string")
	}
	if strict.Exists() && strict.Type != gjson.True && strict.Type != gjson.False && strict.Type != gjson.Null {
		return errType("text.format.strict", "a boolean")
	}
	js := struct {
		Name        string          `json:"name"`
		Schema      json.RawMessage `json:"schema"`
		Description string          `json:"description,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	}{Name: name.Str, Schema: json.RawMessage(schema.Raw), Description: desc.Str}
	if strict.Type == gjson.True || strict.Type == gjson.False {
		b := strict.Type == gjson.True
		js.Strict = &b
	}
	out, merr := json.Marshal(struct {
		Type       string `json:"type"`
		JSONSchema any    `json:"json_schema"`
	}{"json_schema", js})
	if merr != nil {
		return errType("text.format.schema", "an object")
	}
	req.ResponseFormat = out
	return nil
}
