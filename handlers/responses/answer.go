package responses

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/store"
)

// maxToolCalls bounds the function calls an answer keeps, so that an
// upstream sending absurd tool call indexes cannot make the gateway
// allocate for them.
const maxToolCalls = 128

// answer is the model's answer as far as it came: the text of the first
// choice, its refusal and its tool calls, in the order they appeared (the
// output items' order).
type answer struct {
	msgID   string // of the message item, once there is text or a refusal
	text    []byte
	refusal []byte
	calls   []call
	// order lists the output items as they appeared: -1 the message, i ≥ 0
	// calls[i].
	order  []int
	finish string
}

// call is one function call of an answer.
type call struct {
	itemID string // fc_…
	callID string // the upstream's tool call id, call_… when it gave none
	name   string
	args   []byte
	// started reports the output_item.added event was sent.
	started bool
}

// ensureMessage starts the message item if it was not; it reports whether
// it did.
func (a *answer) ensureMessage() bool {
	if a.msgID != "" {
		return false
	}
	a.msgID = store.NewPublicID(store.PrefixMessage)
	a.order = append(a.order, -1)
	return true
}

// callAt returns the call at the upstream's index, adding calls up to it;
// nil for an index out of bounds.
func (a *answer) callAt(i int) *call {
	if i < 0 || i >= maxToolCalls {
		return nil
	}
	for len(a.calls) <= i {
		a.calls = append(a.calls, call{itemID: store.NewPublicID(prefixFunctionCall)})
		a.order = append(a.order, len(a.calls)-1)
	}
	return &a.calls[i]
}

// items returns the output items; itemStatus is that of every item.
func (a *answer) items(itemStatus string) []Item {
	out := make([]Item, 0, len(a.order))
	for _, k := range a.order {
		if k < 0 {
			out = append(out, a.message(itemStatus))
			continue
		}
		out = append(out, a.calls[k].item(itemStatus))
	}
	return out
}

// message returns the message item.
func (a *answer) message(status string) Item {
	var parts []Part
	if len(a.text) > 0 || len(a.refusal) == 0 {
		parts = append(parts, Part{Type: PartOutputText, Text: string(a.text)})
	}
	if len(a.refusal) > 0 {
		parts = append(parts, Part{Type: PartRefusal, Text: string(a.refusal)})
	}
	return Item{ID: a.msgID, Type: ItemMessage, Role: openai.RoleAssistant, Status: status, Content: parts}
}

func (c *call) item(status string) Item {
	callID := c.callID
	if callID == "" {
		callID = "call_" + strings.TrimPrefix(c.itemID, prefixFunctionCall+"_")
	}
	return Item{ID: c.itemID, Type: ItemFunctionCall, Status: status, CallID: callID, Name: c.name, Arguments: string(c.args)}
}

// status returns the response's status for an answer that ended: a
// length or content-filter finish makes it incomplete.
func (a *answer) status() string {
	if a.incomplete() != nil {
		return StatusIncomplete
	}
	return StatusCompleted
}

// incomplete returns why an ended answer is incomplete, nil when it is not.
func (a *answer) incomplete() *IncompleteDetails {
	switch a.finish {
	case openai.FinishLength:
		return &IncompleteDetails{Reason: "max_output_tokens"}
	case openai.FinishContentFilter:
		return &IncompleteDetails{Reason: "content_filter"}
	}
	return nil
}

// itemStatus returns the status of an ended answer's items.
func (a *answer) itemStatus() string {
	if a.incomplete() != nil {
		return StatusIncomplete
	}
	return StatusCompleted
}

// readCompletion reads the first choice of a chat.completion.
func readCompletion(body []byte) *answer {
	a := &answer{}
	choice := gjson.GetBytes(body, "choices.0")
	a.finish = choice.Get("finish_reason").Str
	msg := choice.Get("message")
	content, refusal := msg.Get("content"), msg.Get("refusal")
	if content.Str != "" || refusal.Str != "" || !msg.Get("tool_calls").IsArray() {
		a.ensureMessage()
		a.text = []byte(content.Str)
		a.refusal = []byte(refusal.Str)
	}
	i := 0
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		c := a.callAt(i)
		i++
		if c == nil {
			return false
		}
		fn := tc.Get("function")
		c.callID, c.name, c.args = tc.Get("id").Str, fn.Get("name").Str, []byte(fn.Get("arguments").Str)
		return true
	})
	return a
}
