package chat

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/internal/bytesconv"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// maxToolCalls bounds the tool calls a reply keeps, so that an upstream
// sending absurd indexes cannot make the gateway allocate for them.
const maxToolCalls = 128

// replyBuilder accumulates the reply of a streamed turn from its chunks, in
// memory: the turn is written once, when the stream has ended. It reads only
// the first choice's delta (content, refusal, tool calls) with one pass over
// each chunk, and only for streams that are recorded.
type replyBuilder struct {
	id      string // of the first chunk, for the conversation event
	created int64
	text    []byte
	refusal []byte
	calls   []openai.ToolCall
}

// add reads one chunk. data is only read during the call.
func (b *replyBuilder) add(data []byte) {
	root := gjson.Parse(bytesconv.String(data))
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			if b.id == "" && v.Type == gjson.String {
				b.id = strings.Clone(v.Str)
			}
		case "created":
			if b.created == 0 && v.Type == gjson.Number {
				b.created = v.Int()
			}
		case "choices":
			v.ForEach(func(_, c gjson.Result) bool {
				if c.Get("index").Int() != 0 {
					return true
				}
				b.addDelta(c.Get("delta"))
				return false
			})
		}
		return true
	})
}

func (b *replyBuilder) addDelta(d gjson.Result) {
	d.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			if v.Type == gjson.String {
				b.text = append(b.text, v.Str...)
			}
		case "refusal":
			if v.Type == gjson.String {
				b.refusal = append(b.refusal, v.Str...)
			}
		case "tool_calls":
			i := 0
			v.ForEach(func(_, tc gjson.Result) bool {
				b.addToolCall(tc, i)
				i++
				return true
			})
		}
		return true
	})
}

// addToolCall merges one tool call delta: the name and arguments arrive in
// pieces, appended in order, under the call's index (its position in the
// array when the upstream gives none).
func (b *replyBuilder) addToolCall(tc gjson.Result, pos int) {
	i := pos
	if idx := tc.Get("index"); idx.Type == gjson.Number {
		i = int(idx.Int())
	}
	if i < 0 || i >= maxToolCalls {
		return
	}
	for len(b.calls) <= i {
		b.calls = append(b.calls, openai.ToolCall{Type: "function"})
	}
	call := &b.calls[i]
	if id := tc.Get("id"); id.Type == gjson.String && call.ID == "" {
		call.ID = strings.Clone(id.Str)
	}
	fn := tc.Get("function")
	if name := fn.Get("name"); name.Type == gjson.String {
		call.Function.Name = concat(call.Function.Name, name.Str)
	}
	if args := fn.Get("arguments"); args.Type == gjson.String {
		call.Function.Arguments = concat(call.Function.Arguments, args.Str)
	}
}

// concat returns a+b in memory of its own: b may point into a chunk's
// buffer, and Go returns b itself for "" + b.
func concat(a, b string) string {
	if a == "" {
		return strings.Clone(b)
	}
	return a + b
}

// reply returns what was accumulated.
func (b *replyBuilder) reply(incomplete bool) Reply {
	return Reply{Text: string(b.text), Refusal: string(b.refusal), ToolCalls: b.calls, Incomplete: incomplete}
}

// completionReply reads the first choice of a chat.completion.
func completionReply(body []byte) Reply {
	var r Reply
	msg := gjson.GetBytes(body, "choices.0.message")
	msg.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			r.Text = v.Str
		case "refusal":
			r.Refusal = v.Str
		case "tool_calls":
			v.ForEach(func(_, tc gjson.Result) bool {
				if len(r.ToolCalls) < maxToolCalls {
					fn := tc.Get("function")
					r.ToolCalls = append(r.ToolCalls, openai.ToolCall{
						ID:       tc.Get("id").Str,
						Type:     "function",
						Function: openai.FunctionCall{Name: fn.Get("name").Str, Arguments: fn.Get("arguments").Str},
					})
				}
				return true
			})
		}
		return true
	})
	return r
}
