package responses

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/internal/bytesconv"
)

// relay turns the chunks of a chat completions stream into Responses
// events, accumulating the answer.
type relay struct {
	t     *turn
	a     answer
	ev    events
	usage *Usage
	// textStarted and refusalStarted report that the message's output_text
	// (content index 0) and refusal (after the text) parts were added.
	textStarted, refusalStarted bool
	// closedAs is, by output index, the status an item's done events gave
	// it, "" while it is open. An item is closed when the next one starts,
	// as OpenAI streams them one after another, or at the end.
	closedAs []string
}

// add reads one chunk (its first choice) and appends the events it makes.
// data is only read during the call.
func (rl *relay) add(data []byte) {
	choice := gjson.Get(bytesconv.String(data), "choices.0")
	if !choice.Exists() {
		return
	}
	choice.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "delta":
			v.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "content":
					if v.Type == gjson.String && v.Str != "" {
						rl.text(v.Str, false)
					}
				case "refusal":
					if v.Type == gjson.String && v.Str != "" {
						rl.text(v.Str, true)
					}
				case "tool_calls":
					i := 0
					v.ForEach(func(_, tc gjson.Result) bool {
						rl.toolCall(tc, i)
						i++
						return true
					})
				}
				return true
			})
		case "finish_reason":
			if v.Type == gjson.String {
				rl.a.finish = strings.Clone(v.Str)
			}
		}
		return true
	})
}

// outputIndex returns the output index of the message (k = -1) or of
// calls[k].
func (rl *relay) outputIndex(k int) int {
	for i, o := range rl.a.order {
		if o == k {
			return i
		}
	}
	return len(rl.a.order)
}

// text appends a piece of the message's text (or refusal), starting the
// message item and its part first.
func (rl *relay) text(delta string, refusal bool) {
	if rl.a.ensureMessage() {
		out := rl.outputIndex(-1)
		rl.closeOpen(out)
		rl.ev.item(eventItemAdded, out, Item{ID: rl.a.msgID, Type: ItemMessage, Role: "assistant", Status: StatusInProgress})
	}
	out := rl.outputIndex(-1)
	if refusal {
		content := 0
		if rl.textStarted {
			content = 1
		}
		if !rl.refusalStarted {
			rl.refusalStarted = true
			rl.ev.part(eventPartAdded, rl.a.msgID, out, content, []byte(emptyRefusalPart))
		}
		rl.a.refusal = append(rl.a.refusal, delta...)
		rl.ev.textDelta(eventRefusalDelta, rl.a.msgID, out, content, delta)
		return
	}
	if !rl.textStarted {
		rl.textStarted = true
		rl.ev.part(eventPartAdded, rl.a.msgID, out, 0, []byte(emptyOutputTextPart))
	}
	rl.a.text = append(rl.a.text, delta...)
	rl.ev.textDelta(eventTextDelta, rl.a.msgID, out, 0, delta)
}

// toolCall merges one tool call delta: the call's item is added once its
// name is known, and each piece of its arguments is a delta event.
func (rl *relay) toolCall(tc gjson.Result, pos int) {
	i := pos
	if idx := tc.Get("index"); idx.Type == gjson.Number {
		i = int(idx.Int())
	}
	c := rl.a.callAt(i)
	if c == nil {
		return
	}
	// The chunk's strings point into its buffer, which the stream reuses:
	// what is kept is copied.
	if id := tc.Get("id"); id.Type == gjson.String && c.callID == "" {
		c.callID = strings.Clone(id.Str)
	}
	fn := tc.Get("function")
	if name := fn.Get("name"); name.Type == gjson.String && name.Str != "" {
		c.name = strings.Clone(c.name + name.Str)
	}
	args := fn.Get("arguments")
	if args.Type == gjson.String {
		c.args = append(c.args, args.Str...)
	}
	out := rl.outputIndex(i)
	if !c.started {
		if c.name == "" {
			return
		}
		rl.startCall(c, out)
		return
	}
	if args.Str != "" {
		rl.ev.argumentsDelta(c.itemID, out, args.Str)
	}
}

// startCall adds a call's item, with the arguments that came before its
// name as one delta.
func (rl *relay) startCall(c *call, out int) {
	rl.closeOpen(out)
	c.started = true
	it := c.item(StatusInProgress)
	it.Arguments = ""
	rl.ev.item(eventItemAdded, out, it)
	if len(c.args) > 0 {
		rl.ev.argumentsDelta(c.itemID, out, string(c.args))
	}
}

// closeOpen closes, as completed, the items that were started and not
// closed, but the one at output index except.
func (rl *relay) closeOpen(except int) {
	for out, k := range rl.a.order {
		started := k < 0 || rl.a.calls[k].started
		if out != except && started && rl.closedStatus(out) == "" {
			rl.closeItem(out, StatusCompleted)
		}
	}
}

// closedStatus returns the status the item at out was closed with, "" when
// it is open.
func (rl *relay) closedStatus(out int) string {
	if out < len(rl.closedAs) {
		return rl.closedAs[out]
	}
	return ""
}

// closeItem appends the done events of the item at output index out, with
// the status given.
func (rl *relay) closeItem(out int, status string) {
	for len(rl.closedAs) <= out {
		rl.closedAs = append(rl.closedAs, "")
	}
	rl.closedAs[out] = status
	k := rl.a.order[out]
	if k >= 0 {
		it := rl.a.calls[k].item(status)
		rl.ev.head(eventArgumentsDone)
		rl.ev.position(it.ID, out, -1)
		rl.ev.stringMember("name", it.Name)
		rl.ev.stringMember("arguments", it.Arguments)
		rl.ev.end()
		rl.ev.item(eventItemDone, out, it)
		return
	}
	msg := rl.a.message(status)
	content := 0
	if rl.textStarted {
		rl.ev.head(eventTextDone)
		rl.ev.position(msg.ID, out, 0)
		rl.ev.stringMember("text", string(rl.a.text))
		rl.ev.buf = append(rl.ev.buf, deltaLogprobs...)
		rl.ev.end()
		part, _ := Part{Type: PartOutputText, Text: string(rl.a.text)}.MarshalJSON()
		rl.ev.part(eventPartDone, msg.ID, out, 0, part)
		content = 1
	}
	if rl.refusalStarted {
		rl.ev.head(eventRefusalDone)
		rl.ev.position(msg.ID, out, content)
		rl.ev.stringMember("refusal", string(rl.a.refusal))
		rl.ev.end()
		part, _ := Part{Type: PartRefusal, Text: string(rl.a.refusal)}.MarshalJSON()
		rl.ev.part(eventPartDone, msg.ID, out, content, part)
	}
	rl.ev.item(eventItemDone, out, msg)
}

// output returns the output items: those closed with the status they were
// closed with, the others with openStatus.
func (rl *relay) output(openStatus string) []Item {
	out := make([]Item, len(rl.a.order))
	for i, k := range rl.a.order {
		status := rl.closedStatus(i)
		if status == "" {
			status = openStatus
		}
		if k < 0 {
			out[i] = rl.a.message(status)
		} else {
			out[i] = rl.a.calls[k].item(status)
		}
	}
	return out
}

// end closes every item (a call whose name never came is added first) and
// returns the ended response (without its final event).
func (rl *relay) end() *Response {
	status := rl.a.itemStatus()
	for out, k := range rl.a.order {
		if k >= 0 && !rl.a.calls[k].started {
			rl.startCall(&rl.a.calls[k], out)
		}
		if rl.closedStatus(out) == "" {
			rl.closeItem(out, status)
		}
	}
	resp := rl.t.response(rl.a.status(), rl.output(status), rl.a.incomplete())
	resp.Usage = rl.usage
	return resp
}

// failed returns the response of a stream cut short: failed, with the
// output so far, the items still open incomplete.
func (rl *relay) failed(code, message string) *Response {
	resp := rl.t.response(StatusFailed, rl.output(StatusIncomplete), nil)
	resp.Error = &ResponseError{Code: code, Message: message}
	resp.Usage = rl.usage
	return resp
}
