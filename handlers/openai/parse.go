package openai

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/internal/bytesconv"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
)

// Parameter ranges of the specification.
const (
	MinTemperature = 0.0
	MaxTemperature = 2.0
	MinTopP        = 0.0
	MaxTopP        = 1.0
	MaxStop        = 4
	// maxTokensCeiling bounds max_tokens before the model's own maximum is
	// known, so that the value always fits an int32 upstream.
	maxTokensCeiling = 1<<31 - 1
)

// ChatRequest is what validation learnt about a request body. It keeps the
// positions of the top-level members so that RewriteChatRequest can copy the
// body upstream without decoding it again.
type ChatRequest struct {
	// Model is the public model id the client asked for.
	Model string
	// Stream is the stream flag.
	Stream bool
	// IncludeUsage is stream_options.include_usage as the client sent it.
	IncludeUsage bool
	// MaxTokens is the client's output limit (max_completion_tokens when
	// given, else max_tokens), 0 when it set none.
	MaxTokens int
	// MaxTokensParam names the parameter MaxTokens came from.
	MaxTokensParam string
	// HasTools reports a non-empty tools array.
	HasTools bool
	// Conversation is the Jan extension naming the conversation to append the
	// turn to ("conv_…"), empty when absent. Store is the Jan "store" flag,
	// nil when absent. Neither is sent upstream.
	Conversation string
	Store        *bool

	members        []member
	gatewayMembers bool     // conversation or store is present
	image          imagePos // the first image_url part
}

// ImageParam names the first image_url part of the messages
// ("messages[i].content[j]"); ok is false when the request has none.
func (r *ChatRequest) ImageParam() (param string, ok bool) {
	if !r.image.found {
		return "", false
	}
	return indexParam("messages", r.image.message) + ".content" + "[" + strconv.Itoa(r.image.part) + "]", true
}

// member is the position of one top-level member of the body.
type member struct {
	keyStart, keyEnd int // the quoted key
	valStart, valEnd int // the raw value
	field            topField
}

type topField uint8

const (
	fieldOther topField = iota
	fieldModel
	fieldMessages
	fieldStream
	fieldStreamOptions
	fieldMaxTokens
	fieldMaxCompletionTokens
	fieldTemperature
	fieldTopP
	fieldStop
	fieldTools
	fieldToolChoice
	fieldParallelToolCalls
	fieldUser
	fieldConversation
	fieldStore
)

func topFieldOf(key string) topField {
	switch key {
	case "model":
		return fieldModel
	case "messages":
		return fieldMessages
	case "stream":
		return fieldStream
	case "stream_options":
		return fieldStreamOptions
	case "max_tokens":
		return fieldMaxTokens
	case "max_completion_tokens":
		return fieldMaxCompletionTokens
	case "temperature":
		return fieldTemperature
	case "top_p":
		return fieldTopP
	case "stop":
		return fieldStop
	case "tools":
		return fieldTools
	case "tool_choice":
		return fieldToolChoice
	case "parallel_tool_calls":
		return fieldParallelToolCalls
	case "user":
		return fieldUser
	case "conversation":
		return fieldConversation
	case "store":
		return fieldStore
	}
	return fieldOther
}

var topFieldNames = [...]string{
	"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
	"temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls", "user",
	"conversation", "store",
}

// caseVariantOf returns the known member name that key spells with other
// letter cases, or "".
func caseVariantOf(key string) string {
	for _, name := range topFieldNames {
		if len(name) == len(key) && strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}

// parseRoot returns the top-level value of a valid JSON document with its
// Index set, so that the positions gjson reports are offsets into body.
func parseRoot(body []byte) gjson.Result {
	s := bytesconv.String(body)
	start := 0
	for start < len(s) && (s[start] == ' ' || s[start] == '\t' || s[start] == '\n' || s[start] == '\r') {
		start++
	}
	root := gjson.Parse(s[start:])
	root.Index = start
	return root
}

// ValidateMessages validates a messages array that replaces a parsed
// request's (Adjustment.Messages) as ParseChatRequest validates the
// request's own: one written by the media service, say, which is trusted no
// more than the client.
func ValidateMessages(messages []byte) *apierr.Error {
	if !jsonguard.WithinDepth(messages) {
		return jsonguard.ErrTooDeep()
	}
	if !gjson.ValidBytes(messages) || !utf8.Valid(messages) {
		return ErrInvalidJSON("messages are not valid JSON")
	}
	var img imagePos
	return validateMessages(gjson.ParseBytes(messages), &img)
}

// ParseChatRequest validates a chat completions request body against the
// specification's rules and returns what the gateway needs to route it. It
// does not check that the model exists nor the model's own output limit: the
// caller does, with the model table. Errors are 400s in the spec's shape,
// naming the parameter at fault.
//
// The body's nesting is bounded (jsonguard.MaxDepth) before gjson, whose
// validation recurses once per level, reads it.
func ParseChatRequest(body []byte) (*ChatRequest, *apierr.Error) {
	if !jsonguard.WithinDepth(body) {
		return nil, jsonguard.ErrTooDeep()
	}
	if !gjson.ValidBytes(body) {
		return nil, ErrInvalidJSON("request body is not valid JSON")
	}
	if !utf8.Valid(body) {
		return nil, ErrInvalidJSON("request body is not valid UTF-8")
	}
	root := parseRoot(body)
	if !root.IsObject() {
		return nil, ErrInvalidJSON("request body must be a JSON object")
	}

	req := &ChatRequest{members: make([]member, 0, 8)}
	var (
		seen       uint32
		err        *apierr.Error
		maxTokens  int
		maxCompl   int
		hasMessage bool
	)
	root.ForEach(func(k, v gjson.Result) bool {
		f := topFieldOf(k.Str)
		if f == fieldOther {
			if known := caseVariantOf(k.Str); known != "" {
				// Some upstreams (Go's encoding/json) match names without
				// regard to case: "Model" would override what we validated.
				err = apierr.Invalid(k.Str, CodeInvalidParameter, k.Str+" is not a parameter; names are case-sensitive (did you mean "+known+"?)")
				return false
			}
		} else {
			if seen&(1<<f) != 0 {
				err = ErrDuplicate(k.Str)
				return false
			}
			seen |= 1 << f
		}
		req.members = append(req.members, member{
			keyStart: k.Index, keyEnd: k.Index + len(k.Raw),
			valStart: v.Index, valEnd: v.Index + len(v.Raw),
			field: f,
		})
		switch f {
		case fieldModel:
			if v.Type != gjson.String {
				err = ErrType("model", "a string")
			} else {
				req.Model = strings.Clone(v.Str)
			}
		case fieldMessages:
			hasMessage = true
			err = validateMessages(v, &req.image)
		case fieldStream:
			req.Stream, err = optionalBool(v, "stream")
		case fieldStreamOptions:
			req.IncludeUsage, err = validateStreamOptions(v)
		case fieldMaxTokens:
			maxTokens, err = optionalTokens(v, "max_tokens")
		case fieldMaxCompletionTokens:
			maxCompl, err = optionalTokens(v, "max_completion_tokens")
		case fieldTemperature:
			err = optionalRange(v, "temperature", MinTemperature, MaxTemperature)
		case fieldTopP:
			err = optionalRange(v, "top_p", MinTopP, MaxTopP)
		case fieldStop:
			err = validateStop(v)
		case fieldTools:
			req.HasTools, err = validateTools(v)
		case fieldToolChoice:
			err = validateToolChoice(v)
		case fieldParallelToolCalls:
			_, err = optionalBool(v, "parallel_tool_calls")
		case fieldUser:
			if v.Type != gjson.Null && v.Type != gjson.String {
				err = ErrType("user", "a string")
			}
		case fieldConversation:
			req.gatewayMembers = true
			req.Conversation, err = validateConversation(v)
		case fieldStore:
			req.gatewayMembers = true
			if v.Type == gjson.True || v.Type == gjson.False {
				b := v.Type == gjson.True
				req.Store = &b
			} else if v.Type != gjson.Null {
				err = ErrType("store", "a boolean")
			}
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if seen&(1<<fieldModel) == 0 {
		return nil, ErrMissing("model")
	}
	if !hasMessage {
		return nil, ErrMissing("messages")
	}
	switch {
	case maxCompl > 0:
		req.MaxTokens, req.MaxTokensParam = maxCompl, "max_completion_tokens"
	case maxTokens > 0:
		req.MaxTokens, req.MaxTokensParam = maxTokens, "max_tokens"
	}
	return req, nil
}

func optionalBool(v gjson.Result, param string) (bool, *apierr.Error) {
	switch v.Type {
	case gjson.True:
		return true, nil
	case gjson.False, gjson.Null:
		return false, nil
	}
	return false, ErrType(param, "a boolean")
}

func optionalTokens(v gjson.Result, param string) (int, *apierr.Error) {
	if v.Type == gjson.Null {
		return 0, nil
	}
	if v.Type != gjson.Number || !isIntegerLiteral(v.Raw) {
		return 0, ErrType(param, "an integer")
	}
	n, perr := strconv.ParseInt(v.Raw, 10, 64)
	if perr != nil || n < 1 || n > maxTokensCeiling {
		return 0, ErrValue(param, "must be at least 1")
	}
	return int(n), nil
}

// isIntegerLiteral reports whether a JSON number has no fraction nor
// exponent, so that every upstream decodes it as an integer.
func isIntegerLiteral(raw string) bool {
	return raw != "" && !strings.ContainsAny(raw, ".eE")
}

func optionalRange(v gjson.Result, param string, lo, hi float64) *apierr.Error {
	if v.Type == gjson.Null {
		return nil
	}
	if v.Type != gjson.Number {
		return ErrType(param, "a number")
	}
	if !(v.Num >= lo && v.Num <= hi) {
		return ErrValue(param, "must be between "+strconv.FormatFloat(lo, 'f', -1, 64)+" and "+strconv.FormatFloat(hi, 'f', -1, 64))
	}
	return nil
}

func validateStreamOptions(v gjson.Result) (includeUsage bool, err *apierr.Error) {
	if v.Type == gjson.Null {
		return false, nil
	}
	if !v.IsObject() {
		return false, ErrType("stream_options", "an object")
	}
	seen := false
	v.ForEach(func(k, f gjson.Result) bool {
		if k.Str != "include_usage" {
			return true
		}
		if seen {
			err = ErrDuplicate("stream_options.include_usage")
			return false
		}
		seen = true
		includeUsage, err = optionalBool(f, "stream_options.include_usage")
		return err == nil
	})
	return includeUsage, err
}

func validateStop(v gjson.Result) *apierr.Error {
	switch {
	case v.Type == gjson.Null, v.Type == gjson.String:
		return nil
	case v.IsArray():
		var err *apierr.Error
		n := 0
		v.ForEach(func(_, s gjson.Result) bool {
			n++
			if s.Type != gjson.String {
				err = ErrType("stop", "a string or an array of strings")
			} else if n > MaxStop {
				err = ErrValue("stop", "must have at most 4 sequences")
			}
			return err == nil
		})
		return err
	}
	return ErrType("stop", "a string or an array of strings")
}

func validateTools(v gjson.Result) (nonEmpty bool, err *apierr.Error) {
	if v.Type == gjson.Null {
		return false, nil
	}
	if !v.IsArray() {
		return false, ErrType("tools", "an array")
	}
	i := 0
	v.ForEach(func(_, t gjson.Result) bool {
		err = validateTool(t, i)
		i++
		return err == nil
	})
	return i > 0, err
}

func validateTool(t gjson.Result, i int) *apierr.Error {
	param := func() string { return indexParam("tools", i) } // built only on error
	if !t.IsObject() {
		return ErrType(param(), "an object")
	}
	var f [2]gjson.Result
	if dup := pickMembers(t, toolMembers, f[:]); dup != "" {
		return ErrDuplicate(param() + "." + dup)
	}
	typ, fn := f[0], f[1]
	if typ.Type != gjson.String {
		return ErrType(param()+".type", "a string")
	}
	if !fn.Exists() {
		if typ.Str != "function" {
			// Other tool kinds (for example OpenAI's "custom") pass
			// through to upstreams that know them.
			return nil
		}
		return ErrMissing(param() + ".function")
	}
	return validateFunctionDef(fn, func() string { return param() + ".function" })
}

func validateFunctionDef(fn gjson.Result, paramOf func() string) *apierr.Error {
	if !fn.IsObject() {
		return ErrType(paramOf(), "an object")
	}
	var (
		err  *apierr.Error
		seen uint8
		name bool
	)
	fn.ForEach(func(k, f gjson.Result) bool {
		var bit uint8
		switch k.Str {
		case "name":
			bit = 1
			if f.Type != gjson.String || f.Str == "" {
				err = ErrType(paramOf()+".name", "a non-empty string")
			}
			name = true
		case "description":
			bit = 2
			if f.Type != gjson.String && f.Type != gjson.Null {
				err = ErrType(paramOf()+".description", "a string")
			}
		case "parameters":
			bit = 4
			if !f.IsObject() && f.Type != gjson.Null {
				err = ErrType(paramOf()+".parameters", "an object")
			}
		case "strict":
			bit = 8
			if f.Type != gjson.True && f.Type != gjson.False && f.Type != gjson.Null {
				err = ErrType(paramOf()+".strict", "a boolean")
			}
		default:
			return true
		}
		if err == nil && seen&bit != 0 {
			err = ErrDuplicate(paramOf() + "." + k.Str)
		}
		seen |= bit
		return err == nil
	})
	if err == nil && !name {
		err = ErrMissing(paramOf() + ".name")
	}
	return err
}

func validateToolChoice(v gjson.Result) *apierr.Error {
	switch {
	case v.Type == gjson.Null:
		return nil
	case v.Type == gjson.String:
		switch v.Str {
		case "none", "auto", "required":
			return nil
		}
		return ErrValue("tool_choice", `must be "none", "auto", "required" or an object`)
	case v.IsObject():
		return nil
	}
	return ErrType("tool_choice", `"none", "auto", "required" or an object`)
}

func validateConversation(v gjson.Result) (string, *apierr.Error) {
	switch {
	case v.Type == gjson.Null:
		return "", nil
	case v.Type == gjson.String:
		return strings.Clone(v.Str), nil
	case v.IsObject():
		id := v.Get("id")
		if id.Type != gjson.String {
			return "", ErrType("conversation.id", "a string")
		}
		return strings.Clone(id.Str), nil
	}
	return "", ErrType("conversation", "a string or an object with an id")
}

func indexParam(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}
