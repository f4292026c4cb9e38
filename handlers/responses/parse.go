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
		return nil, openai.ErrInvalidJSON("request body is not valid JSON")
	}
	if !utf8.Valid(body) {
		return nil, openai.ErrInvalidJSON("request body is not valid UTF-8")
	}
	root := gjson.Parse(bytesconv.String(body))
	if !root.IsObject() {
		return nil, openai.ErrInvalidJSON("request body must be a JSON object")
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
			err = openai.ErrDuplicate(k.Str)
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
		return nil, openai.ErrMissing("model")
	}
	if !hasInput && req.PreviousResponseID == "" && req.Conversation == "" {
		return nil, openai.ErrMissing("input")
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
		return "", openai.ErrType(param, "a string")
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
		return "", openai.ErrType(param, "a non-empty string")
	}
	if len(v.Str) > MaxIDLength {
		return "", openai.ErrValue(param, "is too long")
	}
	if strings.ContainsRune(v.Str, 0) {
		// No id holds one; PostgreSQL could not even look it up.
		return "", openai.ErrValue(param, "must not contain the NUL character")
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
	return false, openai.ErrType(param, "a boolean")
}

func optionalTokens(v gjson.Result, param string) (int, *apierr.Error) {
	if v.Type == gjson.Null {
		return 0, nil
	}
	if v.Type != gjson.Number || strings.ContainsAny(v.Raw, ".eE") {
		return 0, openai.ErrType(param, "an integer")
	}
	n, perr := strconv.ParseInt(v.Raw, 10, 64)
	if perr != nil || n < 1 || n > 1<<31-1 {
		return 0, openai.ErrValue(param, "must be at least 1")
	}
	return int(n), nil
}

func optionalRange(v gjson.Result, param string, lo, hi float64) (*float64, *apierr.Error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if v.Type != gjson.Number {
		return nil, openai.ErrType(param, "a number")
	}
	if !(v.Num >= lo && v.Num <= hi) {
		return nil, openai.ErrValue(param, "must be between "+strconv.FormatFloat(lo, 'f', -1, 64)+" and "+strconv.FormatFloat(hi, 'f', -1, 64))
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
	return "", openai.ErrType("conversation", "a string or an object with an id")
}

// parseMetadata reads up to MaxMetadataPairs string pairs.
func parseMetadata(v gjson.Result) (map[string]string, *apierr.Error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsObject() {
		return nil, openai.ErrType("metadata", "an object of strings")
	}
	m := make(map[string]string)
	var err *apierr.Error
	v.ForEach(func(k, val gjson.Result) bool {
		param := "metadata." + k.Str
		switch {
		case len(m) == MaxMetadataPairs:
			err = openai.ErrValue("metadata", "can have at most "+strconv.Itoa(MaxMetadataPairs)+" pairs")
		case utf8.RuneCountInString(k.Str) > MaxMetadataKeyLen:
			err = openai.ErrValue("metadata", "keys can be at most "+strconv.Itoa(MaxMetadataKeyLen)+" characters long")
		case val.Type != gjson.String:
			err = openai.ErrType(param, "a string")
		case utf8.RuneCountInString(val.Str) > MaxMetadataValueLen:
			err = openai.ErrValue(param, "can be at most "+strconv.Itoa(MaxMetadataValueLen)+" characters long")
		default:
			m[strings.Clone(k.Str)] = strings.Clone(val.Str)
		}
		return err == nil
	})
	return m, err
}
