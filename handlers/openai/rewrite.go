package openai

import (
	"encoding/json"

	"github.com/tidwall/sjson"
)

// includeUsageMember is appended to a streamed request that has no
// stream_options.
const includeUsageMember = `"stream_options":{"include_usage":true}`

// UpstreamBody returns the body to send to an OpenAI-compatible upstream:
// the client's body with the model replaced by model (the upstream's name for
// it), stream_options.include_usage forced on for streams (the gateway always
// records usage; it passes the usage chunk on only when the client asked),
// and the gateway's own members (conversation, store) removed. Everything
// else is copied byte for byte, in order. It returns body itself when nothing
// changes. body must be the body r was parsed from.
func (r *ChatRequest) UpstreamBody(body []byte, model string) []byte {
	changeModel := model != "" && model != r.Model
	forceUsage := r.Stream && !r.IncludeUsage
	if !changeModel && !forceUsage && !r.gatewayMembers {
		return body
	}

	out := make([]byte, 0, len(body)+len(model)+len(includeUsageMember)+2)
	out = append(out, '{')
	first, sawOptions := true, false
	for _, m := range r.members {
		if m.field == fieldConversation || m.field == fieldStore {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, body[m.keyStart:m.keyEnd]...)
		out = append(out, ':')
		value := body[m.valStart:m.valEnd]
		switch {
		case m.field == fieldModel && changeModel:
			out = AppendString(out, model)
		case m.field == fieldStreamOptions && forceUsage:
			sawOptions = true
			out = appendIncludeUsage(out, value)
		default:
			out = append(out, value...)
		}
	}
	if forceUsage && !sawOptions {
		if !first {
			out = append(out, ',')
		}
		out = append(out, includeUsageMember...)
	}
	return append(out, '}')
}

// appendIncludeUsage appends the stream_options value with include_usage set
// to true, keeping the client's other options.
func appendIncludeUsage(dst, value []byte) []byte {
	if len(value) == 0 || value[0] != '{' {
		return append(dst, `{"include_usage":true}`...)
	}
	patched, err := sjson.SetRawBytes(append([]byte(nil), value...), "include_usage", []byte("true"))
	if err != nil {
		return append(dst, `{"include_usage":true}`...)
	}
	return append(dst, patched...)
}

// AppendString appends s as a JSON string.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
