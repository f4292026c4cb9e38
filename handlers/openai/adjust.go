package openai

import "strconv"

// Sampling defaults of the specification: "temperature (default: 0.7)",
// "top_p (default: 1.0)".
const (
	SpecDefaultTemperature = 0.7
	SpecDefaultTopP        = 1.0
)

// Adjustment says how the gateway changes a client's request before any
// provider sees it.
type Adjustment struct {
	// Temperature and TopP are sent when the request omits the parameter
	// (or sends null); nil leaves it out.
	Temperature, TopP *float64
	// DropTools removes tools, tool_choice and parallel_tool_calls: the
	// user turned tools off in their settings.
	DropTools bool
	// Messages, when not nil, replaces the messages array (its media
	// references resolved). It must be a non-empty array that passed
	// ValidateMessages.
	Messages []byte
	// SystemMessages are inserted as system messages before the client's
	// messages, in order (a project's instruction, the user's profile).
	SystemMessages []string
}

// HasToolMembers reports whether the request has tools, tool_choice or
// parallel_tool_calls, the members Adjustment.DropTools removes.
func (r *ChatRequest) HasToolMembers() bool {
	for _, m := range r.members {
		switch m.field {
		case fieldTools, fieldToolChoice, fieldParallelToolCalls:
			return true
		}
	}
	return false
}

// Adjust returns body changed as a asks: the sampling defaults added where
// the request has no value, the tool members removed when a.DropTools, the
// messages replaced and the system messages inserted before them.
// Everything else is copied byte for byte, in order. r is updated to
// describe the returned body (the positions of its members), so that the
// body is never parsed again. It returns body itself when nothing changes.
// body must be the body r was parsed from.
func (r *ChatRequest) Adjust(body []byte, a Adjustment) []byte {
	var hasTemp, hasTopP, hasTools bool
	for _, m := range r.members {
		null := m.valEnd-m.valStart == 4 && string(body[m.valStart:m.valEnd]) == "null"
		switch m.field {
		case fieldTemperature:
			hasTemp = !null
		case fieldTopP:
			hasTopP = !null
		case fieldTools, fieldToolChoice, fieldParallelToolCalls:
			hasTools = true
		}
	}
	setTemp := a.Temperature != nil && !hasTemp
	setTopP := a.TopP != nil && !hasTopP
	dropTools := a.DropTools && hasTools
	setMessages := a.Messages != nil || len(a.SystemMessages) > 0
	if !setTemp && !setTopP && !dropTools && !setMessages {
		return body
	}

	n := len(body) + 48 + len(a.Messages)
	for _, s := range a.SystemMessages {
		n += len(s) + 40
	}
	out := make([]byte, 0, n)
	members := make([]member, 0, len(r.members)+2)
	out = append(out, '{')
	add := func(f topField, key []byte, value func([]byte) []byte) {
		if len(members) > 0 {
			out = append(out, ',')
		}
		m := member{keyStart: len(out), field: f}
		out = append(out, key...)
		m.keyEnd = len(out)
		out = append(out, ':')
		m.valStart = len(out)
		out = value(out)
		m.valEnd = len(out)
		members = append(members, m)
	}
	number := func(v float64) func([]byte) []byte {
		return func(dst []byte) []byte { return strconv.AppendFloat(dst, v, 'f', -1, 64) }
	}
	for _, m := range r.members {
		switch {
		case dropTools && (m.field == fieldTools || m.field == fieldToolChoice || m.field == fieldParallelToolCalls):
			continue
		case m.field == fieldTemperature && setTemp:
			continue // null: written below
		case m.field == fieldTopP && setTopP:
			continue
		case m.field == fieldMessages && setMessages:
			messages := body[m.valStart:m.valEnd]
			if a.Messages != nil {
				messages = a.Messages
			}
			add(m.field, body[m.keyStart:m.keyEnd], func(dst []byte) []byte {
				return appendMessages(dst, a.SystemMessages, messages)
			})
			continue
		}
		raw := body[m.valStart:m.valEnd]
		add(m.field, body[m.keyStart:m.keyEnd], func(dst []byte) []byte { return append(dst, raw...) })
	}
	if setTemp {
		add(fieldTemperature, []byte(`"temperature"`), number(*a.Temperature))
	}
	if setTopP {
		add(fieldTopP, []byte(`"top_p"`), number(*a.TopP))
	}
	out = append(out, '}')
	r.members = members
	if dropTools {
		r.HasTools = false
	}
	return out
}

// appendMessages appends the messages array with the system messages
// inserted first. Validation guarantees a non-empty array: "[" + ours + ","
// + the rest of the client's array is one valid array.
func appendMessages(dst []byte, system []string, messages []byte) []byte {
	if len(system) == 0 {
		return append(dst, messages...)
	}
	dst = append(dst, '[')
	for _, s := range system {
		dst = append(dst, `{"role":"system","content":`...)
		dst = AppendString(dst, s)
		dst = append(dst, "},"...)
	}
	return append(dst, messages[1:]...)
}
