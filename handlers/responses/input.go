package responses

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// parseInput reads "input": a string (one user message) or an array of
// input items: messages (with or without "type": "message"), function calls
// and function call outputs. Other item types are OpenAI's hosted tools and
// item references, which no chat completions upstream can take.
func (req *Request) parseInput(v gjson.Result) *apierr.Error {
	switch {
	case v.Type == gjson.Null:
		return nil
	case v.Type == gjson.String:
		req.Input = []Item{{Type: ItemMessage, Role: conversation.RoleUser, Content: []Part{{Type: PartInputText, Text: strings.Clone(v.Str)}}}}
		req.InputParams = []string{"input"}
		return nil
	case !v.IsArray():
		return openai.ErrType("input", "a string or an array of input items")
	}
	var err *apierr.Error
	i := 0
	v.ForEach(func(_, it gjson.Result) bool {
		param := indexParam("input", i)
		i++
		if i > MaxInputItems {
			err = openai.ErrValue("input", "can have at most "+strconv.Itoa(MaxInputItems)+" items")
			return false
		}
		var item Item
		item, err = req.parseItem(it, param)
		if err == nil {
			req.Input = append(req.Input, item)
			req.InputParams = append(req.InputParams, param)
		}
		return err == nil
	})
	return err
}

// parseItem reads one input item.
func (req *Request) parseItem(it gjson.Result, param string) (Item, *apierr.Error) {
	if !it.IsObject() {
		return Item{}, openai.ErrType(param, "an object")
	}
	typ := it.Get("type")
	kind := ItemMessage
	switch {
	case !typ.Exists() || typ.Type == gjson.Null:
	case typ.Type != gjson.String:
		return Item{}, openai.ErrType(param+".type", "a string")
	default:
		kind = typ.Str
	}
	switch kind {
	case ItemMessage:
		return req.parseMessage(it, param)
	case ItemFunctionCall:
		callID, err := requiredMember(it, "call_id", param)
		if err != nil {
			return Item{}, err
		}
		name, err := requiredMember(it, "name", param)
		if err != nil {
			return Item{}, err
		}
		args := it.Get("arguments")
		if args.Type != gjson.String {
			return Item{}, openai.ErrType(param+".arguments", "a string")
		}
		return Item{Type: ItemFunctionCall, Status: StatusCompleted, CallID: callID, Name: name, Arguments: strings.Clone(args.Str)}, nil
	case ItemFunctionCallOutput:
		callID, err := requiredMember(it, "call_id", param)
		if err != nil {
			return Item{}, err
		}
		output, err := outputText(it.Get("output"), param+".output")
		if err != nil {
			return Item{}, err
		}
		return Item{Type: ItemFunctionCallOutput, Status: StatusCompleted, CallID: callID, Output: output}, nil
	}
	return Item{}, errUnsupported(param+".type", "must be message, function_call or function_call_output")
}

// requiredMember reads a non-empty string member of an item.
func requiredMember(it gjson.Result, name, param string) (string, *apierr.Error) {
	v := it.Get(name)
	if !v.Exists() {
		return "", openai.ErrMissing(param + "." + name)
	}
	if v.Type != gjson.String || v.Str == "" {
		return "", openai.ErrType(param+"."+name, "a non-empty string")
	}
	return strings.Clone(v.Str), nil
}

// outputText reads a function call's output: a string, or input_text parts
// whose texts are joined.
func outputText(v gjson.Result, param string) (string, *apierr.Error) {
	switch {
	case v.Type == gjson.String:
		return strings.Clone(v.Str), nil
	case v.IsArray():
		var (
			texts []string
			err   *apierr.Error
			j     int
		)
		v.ForEach(func(_, p gjson.Result) bool {
			pp := indexParam(param, j)
			j++
			if p.Get("type").Str != PartInputText {
				err = errUnsupported(pp+".type", "must be input_text")
			} else if t := p.Get("text"); t.Type != gjson.String {
				err = openai.ErrType(pp+".text", "a string")
			} else {
				texts = append(texts, t.Str)
			}
			return err == nil
		})
		return strings.Join(texts, "\n"), err
	}
	if !v.Exists() {
		return "", openai.ErrMissing(param)
	}
	return "", openai.ErrType(param, "a string or an array of input_text parts")
}

// parseMessage reads a message item: a role and a content, a string or
// parts (input_text, input_image; output_text and refusal for the
// assistant).
func (req *Request) parseMessage(it gjson.Result, param string) (Item, *apierr.Error) {
	role := it.Get("role")
	if !role.Exists() {
		return Item{}, openai.ErrMissing(param + ".role")
	}
	if role.Type != gjson.String {
		return Item{}, openai.ErrType(param+".role", "a string")
	}
	switch role.Str {
	case conversation.RoleUser, conversation.RoleAssistant, conversation.RoleSystem, conversation.RoleDeveloper:
	default:
		return Item{}, openai.ErrValue(param+".role", "must be one of user, assistant, system, developer")
	}
	item := Item{Type: ItemMessage, Role: role.Str, Status: StatusCompleted}
	content := it.Get("content")
	switch {
	case content.Type == gjson.String:
		item.Content = []Part{{Type: conversation.TextPartType(role.Str), Text: strings.Clone(content.Str)}}
		return item, nil
	case !content.Exists():
		return Item{}, openai.ErrMissing(param + ".content")
	case !content.IsArray():
		return Item{}, openai.ErrType(param+".content", "a string or an array of content parts")
	}
	var err *apierr.Error
	j := 0
	content.ForEach(func(_, p gjson.Result) bool {
		pp := indexParam(param+".content", j)
		j++
		if j > MaxPartsPerMessage {
			err = openai.ErrValue(param+".content", "can have at most "+strconv.Itoa(MaxPartsPerMessage)+" parts")
			return false
		}
		var part Part
		part, err = parsePart(p, role.Str, pp)
		if err == nil {
			if part.Type == PartInputImage && !req.HasImage {
				req.HasImage, req.ImageParam = true, pp
			}
			item.Content = append(item.Content, part)
		}
		return err == nil
	})
	return item, err
}

func parsePart(p gjson.Result, role, param string) (Part, *apierr.Error) {
	if !p.IsObject() {
		return Part{}, openai.ErrType(param, "an object")
	}
	typ := p.Get("type")
	if typ.Type != gjson.String {
		return Part{}, openai.ErrType(param+".type", "a string")
	}
	text := func(member string) (string, *apierr.Error) {
		v := p.Get(member)
		if v.Type != gjson.String {
			return "", openai.ErrType(param+"."+member, "a string")
		}
		return strings.Clone(v.Str), nil
	}
	switch typ.Str {
	case PartInputText:
		s, err := text("text")
		return Part{Type: PartInputText, Text: s}, err
	case PartOutputText, PartRefusal:
		if role != conversation.RoleAssistant {
			return Part{}, openai.ErrValue(param+".type", typ.Str+" is only allowed in assistant messages")
		}
		member := "text"
		if typ.Str == PartRefusal {
			member = "refusal"
		}
		s, err := text(member)
		return Part{Type: typ.Str, Text: s}, err
	case PartInputImage:
		if role != conversation.RoleUser {
			return Part{}, openai.ErrValue(param+".type", "input_image is only allowed in user messages")
		}
		url := p.Get("image_url")
		if !url.Exists() || url.Type == gjson.Null {
			if p.Get("file_id").Exists() {
				return Part{}, errUnsupported(param+".file_id", "is not supported: send image_url")
			}
			return Part{}, openai.ErrMissing(param + ".image_url")
		}
		if url.Type != gjson.String || url.Str == "" {
			return Part{}, openai.ErrType(param+".image_url", "a non-empty string")
		}
		detail := p.Get("detail")
		switch {
		case !detail.Exists() || detail.Type == gjson.Null:
		case detail.Type != gjson.String:
			return Part{}, openai.ErrType(param+".detail", "a string")
		case detail.Str != "auto" && detail.Str != "low" && detail.Str != "high":
			return Part{}, openai.ErrValue(param+".detail", "must be auto, low or high")
		}
		return Part{Type: PartInputImage, ImageURL: strings.Clone(url.Str), Detail: strings.Clone(detail.Str)}, nil
	}
	return Part{}, errUnsupported(param+".type", "must be input_text or input_image (output_text or refusal for the assistant)")
}
