package responses

import (
	"strconv"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// Event types of the Responses stream.
const (
	eventCreated          = "response.created"
	eventInProgress       = "response.in_progress"
	eventCompleted        = "response.completed"
	eventIncomplete       = "response.incomplete"
	eventFailed           = "response.failed"
	eventItemAdded        = "response.output_item.added"
	eventItemDone         = "response.output_item.done"
	eventPartAdded        = "response.content_part.added"
	eventPartDone         = "response.content_part.done"
	eventTextDelta        = "response.output_text.delta"
	eventTextDone         = "response.output_text.done"
	eventRefusalDelta     = "response.refusal.delta"
	eventRefusalDone      = "response.refusal.done"
	eventArgumentsDelta   = "response.function_call_arguments.delta"
	eventArgumentsDone    = "response.function_call_arguments.done"
	sseEventField         = "event: "
	sseDataField          = "\ndata: "
	sseEventEnd           = "}\n\n"
	emptyOutputTextPart   = `{"type":"output_text","text":"","annotations":[],"logprobs":[]}`
	emptyRefusalPart      = `{"type":"refusal","refusal":""}`
	deltaLogprobs         = `,"logprobs":[]`
	outputIndexMember     = `,"output_index":`
	contentIndexMember    = `,"content_index":`
	itemIDMember          = `,"item_id":`
	sequenceNumberMember  = `,"sequence_number":`
	eventTypeMemberPrefix = `{"type":`
)

// events appends the events of one stream to a buffer, numbering them.
// Each event is written as OpenAI writes it: an "event:" line naming its
// type and a "data:" line with the JSON object, whose type repeats it.
type events struct {
	buf []byte
	seq int
}

// head starts an event of type typ: its lines up to the members after
// sequence_number.
func (e *events) head(typ string) {
	e.buf = append(e.buf, sseEventField...)
	e.buf = append(e.buf, typ...)
	e.buf = append(e.buf, sseDataField...)
	e.buf = append(e.buf, eventTypeMemberPrefix...)
	e.buf = appendPlain(e.buf, typ)
	e.buf = append(e.buf, sequenceNumberMember...)
	e.buf = strconv.AppendInt(e.buf, int64(e.seq), 10)
	e.seq++
}

func (e *events) end() { e.buf = append(e.buf, sseEventEnd...) }

// member appends ,"name":raw.
func (e *events) member(name string, raw []byte) {
	e.buf = append(e.buf, ',', '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '"', ':')
	e.buf = append(e.buf, raw...)
}

func (e *events) stringMember(name, s string) {
	e.buf = append(e.buf, ',', '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '"', ':')
	e.buf = openai.AppendString(e.buf, s)
}

// position appends the item id, output index and (when content ≥ 0) the
// content index of a delta or done event.
func (e *events) position(itemID string, output, content int) {
	e.buf = append(e.buf, itemIDMember...)
	e.buf = appendPlain(e.buf, itemID)
	e.buf = append(e.buf, outputIndexMember...)
	e.buf = strconv.AppendInt(e.buf, int64(output), 10)
	if content >= 0 {
		e.buf = append(e.buf, contentIndexMember...)
		e.buf = strconv.AppendInt(e.buf, int64(content), 10)
	}
}

// response appends a response.created, .in_progress, .completed,
// .incomplete or .failed event around the Response object's JSON.
func (e *events) response(typ string, raw []byte) {
	e.head(typ)
	e.member("response", raw)
	e.end()
}

// item appends a response.output_item.added or .done event.
func (e *events) item(typ string, output int, it Item) {
	raw, err := it.MarshalJSON()
	if err != nil {
		return
	}
	e.head(typ)
	e.buf = append(e.buf, outputIndexMember...)
	e.buf = strconv.AppendInt(e.buf, int64(output), 10)
	e.member("item", raw)
	e.end()
}

// part appends a response.content_part.added or .done event.
func (e *events) part(typ, itemID string, output, content int, part []byte) {
	e.head(typ)
	e.position(itemID, output, content)
	e.member("part", part)
	e.end()
}

// textDelta appends a response.output_text.delta or response.refusal.delta
// event.
func (e *events) textDelta(typ, itemID string, output, content int, delta string) {
	e.head(typ)
	e.position(itemID, output, content)
	e.stringMember("delta", delta)
	if typ == eventTextDelta {
		e.buf = append(e.buf, deltaLogprobs...)
	}
	e.end()
}

// argumentsDelta appends a response.function_call_arguments.delta event.
func (e *events) argumentsDelta(itemID string, output int, delta string) {
	e.head(eventArgumentsDelta)
	e.position(itemID, output, -1)
	e.stringMember("delta", delta)
	e.end()
}

// appendPlain appends s quoted: s is one of the gateway's own names or ids
// (ASCII letters, digits, '_' and '.'), which need no escaping.
func appendPlain(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
