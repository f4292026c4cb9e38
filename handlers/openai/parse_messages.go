package openai

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

func validateMessages(v gjson.Result) *apierr.Error {
	if !v.IsArray() {
		return errType("messages", "an array")
	}
	var err *apierr.Error
	n := 0
	v.ForEach(func(_, m gjson.Result) bool {
		err = validateMessage(m, n)
		n++
		return err == nil
	})
	if err == nil && n == 0 {
		err = errValue("messages", "must contain at least one message")
	}
	return err
}

// validateMessage checks one message. Parameter names are built only on
// error, so that a valid request costs no allocation here.
func validateMessage(m gjson.Result, i int) *apierr.Error {
	param := func(field string) string { return indexParam("messages", i) + field }
	if !m.IsObject() {
		return errType(param(""), "an object")
	}
	var (
		role, content, name, toolCalls, toolCallID gjson.Result
		seen                                       uint8
		dup                                        string
	)
	m.ForEach(func(k, f gjson.Result) bool {
		var bit uint8
		switch k.Str {
		case "role":
			bit, role = 1, f
		case "content":
			bit, content = 2, f
		case "name":
			bit, name = 4, f
		case "tool_calls":
			bit, toolCalls = 8, f
		case "tool_call_id":
			bit, toolCallID = 16, f
		default:
			return true
		}
		if seen&bit != 0 {
			dup = k.Str
			return false
		}
		seen |= bit
		return true
	})
	if dup != "" {
		return errDuplicate(param("." + dup))
	}

	if !role.Exists() {
		return errMissing(param(".role"))
	}
	if role.Type != gjson.String {
		return errType(param(".role"), "a string")
	}
	switch role.Str {
	case RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool:
	default:
		return errValue(param(".role"), "must be one of system, developer, user, assistant, tool")
	}
	if name.Exists() && name.Type != gjson.String && name.Type != gjson.Null {
		return errType(param(".name"), "a string")
	}
	if toolCallID.Exists() && toolCallID.Type != gjson.String && toolCallID.Type != gjson.Null {
		return errType(param(".tool_call_id"), "a string")
	}
	if role.Str == RoleTool && (toolCallID.Type != gjson.String || toolCallID.Str == "") {
		return errMissing(param(".tool_call_id"))
	}
	if toolCalls.Exists() && toolCalls.Type != gjson.Null {
		if err := validateToolCalls(toolCalls, func() string { return param(".tool_calls") }); err != nil {
			return err
		}
	}

	switch {
	case !content.Exists() || content.Type == gjson.Null:
		if role.Str != RoleAssistant {
			return errMissing(param(".content"))
		}
	case content.Type == gjson.String:
	case content.IsArray():
		var err *apierr.Error
		j := 0
		content.ForEach(func(_, part gjson.Result) bool {
			err = validatePart(part, role.Str, func() string { return param(".content") + "[" + strconv.Itoa(j) + "]" })
			j++
			return err == nil
		})
		if err != nil {
			return err
		}
	default:
		return errType(param(".content"), "a string or an array of content parts")
	}
	return nil
}

func validatePart(part gjson.Result, role string, paramOf func() string) *apierr.Error {
	if !part.IsObject() {
		return errType(paramOf(), "an object")
	}
	var (
		typ, text, image, refusal gjson.Result
		seen                      uint8
		dup                       string
	)
	part.ForEach(func(k, f gjson.Result) bool {
		var bit uint8
		switch k.Str {
		case "type":
			bit, typ = 1, f
		case "text":
			bit, text = 2, f
		case "image_url":
			bit, image = 4, f
		case "refusal":
			bit, refusal = 8, f
		default:
			return true
		}
		if seen&bit != 0 {
			dup = k.Str
			return false
		}
		seen |= bit
		return true
	})
	if dup != "" {
		return errDuplicate(paramOf() + "." + dup)
	}
	if typ.Type != gjson.String {
		return errType(paramOf()+".type", "a string")
	}
	switch typ.Str {
	case PartText:
		if text.Type != gjson.String {
			return errType(paramOf()+".text", "a string")
		}
	case PartImageURL:
		if role != RoleUser {
			return errValue(paramOf()+".type", "image_url is only allowed in user messages")
		}
		return validateImageURL(image, func() string { return paramOf() + ".image_url" })
	case PartRefusal:
		if role != RoleAssistant {
			return errValue(paramOf()+".type", "refusal is only allowed in assistant messages")
		}
		if refusal.Type != gjson.String {
			return errType(paramOf()+".refusal", "a string")
		}
	default:
		return errValue(paramOf()+".type", "must be text or image_url")
	}
	return nil
}

func validateImageURL(image gjson.Result, paramOf func() string) *apierr.Error {
	if !image.Exists() {
		return errMissing(paramOf())
	}
	if !image.IsObject() {
		return errType(paramOf(), "an object with a url")
	}
	var (
		url, detail gjson.Result
		seen        uint8
		dup         string
	)
	image.ForEach(func(k, f gjson.Result) bool {
		var bit uint8
		switch k.Str {
		case "url":
			bit, url = 1, f
		case "detail":
			bit, detail = 2, f
		default:
			return true
		}
		if seen&bit != 0 {
			dup = k.Str
			return false
		}
		seen |= bit
		return true
	})
	if dup != "" {
		return errDuplicate(paramOf() + "." + dup)
	}
	if url.Type != gjson.String || url.Str == "" {
		return errType(paramOf()+".url", "a non-empty string")
	}
	if detail.Exists() && detail.Type != gjson.String && detail.Type != gjson.Null {
		return errType(paramOf()+".detail", "a string")
	}
	return nil
}

func validateToolCalls(v gjson.Result, paramOf func() string) *apierr.Error {
	if !v.IsArray() {
		return errType(paramOf(), "an array")
	}
	var err *apierr.Error
	i := 0
	v.ForEach(func(_, tc gjson.Result) bool {
		err = validateToolCall(tc, func() string { return paramOf() + "[" + strconv.Itoa(i) + "]" })
		i++
		return err == nil
	})
	return err
}

func validateToolCall(tc gjson.Result, paramOf func() string) *apierr.Error {
	if !tc.IsObject() {
		return errType(paramOf(), "an object")
	}
	var (
		id, typ, fn gjson.Result
		seen        uint8
		dup         string
	)
	tc.ForEach(func(k, f gjson.Result) bool {
		var bit uint8
		switch k.Str {
		case "id":
			bit, id = 1, f
		case "type":
			bit, typ = 2, f
		case "function":
			bit, fn = 4, f
		default:
			return true
		}
		if seen&bit != 0 {
			dup = k.Str
			return false
		}
		seen |= bit
		return true
	})
	if dup != "" {
		return errDuplicate(paramOf() + "." + dup)
	}
	if id.Exists() && id.Type != gjson.String && id.Type != gjson.Null {
		return errType(paramOf()+".id", "a string")
	}
	if typ.Exists() && typ.Type != gjson.String && typ.Type != gjson.Null {
		return errType(paramOf()+".type", "a string")
	}
	if !fn.IsObject() {
		return errType(paramOf()+".function", "an object")
	}
	var name, args gjson.Result
	seen = 0
	fn.ForEach(func(k, f gjson.Result) bool {
		var bit uint8
		switch k.Str {
		case "name":
			bit, name = 1, f
		case "arguments":
			bit, args = 2, f
		default:
			return true
		}
		if seen&bit != 0 {
			dup = k.Str
			return false
		}
		seen |= bit
		return true
	})
	if dup != "" {
		return errDuplicate(paramOf() + ".function." + dup)
	}
	if name.Type != gjson.String || name.Str == "" {
		return errType(paramOf()+".function.name", "a non-empty string")
	}
	if args.Exists() && args.Type != gjson.String && args.Type != gjson.Null {
		return errType(paramOf()+".function.arguments", "a string")
	}
	return nil
}
