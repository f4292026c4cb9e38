package openai

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

func validateMessages(v gjson.Result, img *imagePos) *apierr.Error {
	if !v.IsArray() {
		return ErrType("messages", "an array")
	}
	var err *apierr.Error
	n := 0
	v.ForEach(func(_, m gjson.Result) bool {
		err = validateMessage(m, n, img)
		n++
		return err == nil
	})
	if err == nil && n == 0 {
		err = ErrValue("messages", "must contain at least one message")
	}
	return err
}

// validateMessage checks one message. Parameter names are built only on
// error, so that a valid request costs no allocation here.
func validateMessage(m gjson.Result, i int, img *imagePos) *apierr.Error {
	param := func(field string) string { return indexParam("messages", i) + field }
	if !m.IsObject() {
		return ErrType(param(""), "an object")
	}
	var f [5]gjson.Result
	if dup := pickMembers(m, messageMembers, f[:]); dup != "" {
		return ErrDuplicate(param("." + dup))
	}
	role, content, name, toolCalls, toolCallID := f[0], f[1], f[2], f[3], f[4]

	if !role.Exists() {
		return ErrMissing(param(".role"))
	}
	if role.Type != gjson.String {
		return ErrType(param(".role"), "a string")
	}
	switch role.Str {
	case RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool:
	default:
		return ErrValue(param(".role"), "must be one of system, developer, user, assistant, tool")
	}
	if name.Exists() && name.Type != gjson.String && name.Type != gjson.Null {
		return ErrType(param(".name"), "a string")
	}
	if toolCallID.Exists() && toolCallID.Type != gjson.String && toolCallID.Type != gjson.Null {
		return ErrType(param(".tool_call_id"), "a string")
	}
	if role.Str == RoleTool && (toolCallID.Type != gjson.String || toolCallID.Str == "") {
		return ErrMissing(param(".tool_call_id"))
	}
	if toolCalls.Exists() && toolCalls.Type != gjson.Null {
		if err := validateToolCalls(toolCalls, func() string { return param(".tool_calls") }); err != nil {
			return err
		}
	}

	switch {
	case !content.Exists() || content.Type == gjson.Null:
		if role.Str != RoleAssistant {
			return ErrMissing(param(".content"))
		}
	case content.Type == gjson.String:
	case content.IsArray():
		var err *apierr.Error
		j := 0
		content.ForEach(func(_, part gjson.Result) bool {
			err = validatePart(part, role.Str, func() string { return param(".content") + "[" + strconv.Itoa(j) + "]" })
			if err == nil && !img.found && part.Get("type").Str == PartImageURL {
				*img = imagePos{found: true, message: i, part: j}
			}
			j++
			return err == nil
		})
		if err != nil {
			return err
		}
	default:
		return ErrType(param(".content"), "a string or an array of content parts")
	}
	return nil
}

func validatePart(part gjson.Result, role string, paramOf func() string) *apierr.Error {
	if !part.IsObject() {
		return ErrType(paramOf(), "an object")
	}
	var f [4]gjson.Result
	if dup := pickMembers(part, partMembers, f[:]); dup != "" {
		return ErrDuplicate(paramOf() + "." + dup)
	}
	typ, text, image, refusal := f[0], f[1], f[2], f[3]
	if typ.Type != gjson.String {
		return ErrType(paramOf()+".type", "a string")
	}
	switch typ.Str {
	case PartText:
		if text.Type != gjson.String {
			return ErrType(paramOf()+".text", "a string")
		}
	case PartImageURL:
		if role != RoleUser {
			return ErrValue(paramOf()+".type", "image_url is only allowed in user messages")
		}
		return validateImageURL(image, func() string { return paramOf() + ".image_url" })
	case PartRefusal:
		if role != RoleAssistant {
			return ErrValue(paramOf()+".type", "refusal is only allowed in assistant messages")
		}
		if refusal.Type != gjson.String {
			return ErrType(paramOf()+".refusal", "a string")
		}
	default:
		return ErrValue(paramOf()+".type", "must be text or image_url")
	}
	return nil
}

func validateImageURL(image gjson.Result, paramOf func() string) *apierr.Error {
	if !image.Exists() {
		return ErrMissing(paramOf())
	}
	if !image.IsObject() {
		return ErrType(paramOf(), "an object with a url")
	}
	var f [2]gjson.Result
	if dup := pickMembers(image, imageMembers, f[:]); dup != "" {
		return ErrDuplicate(paramOf() + "." + dup)
	}
	url, detail := f[0], f[1]
	if url.Type != gjson.String || url.Str == "" {
		return ErrType(paramOf()+".url", "a non-empty string")
	}
	if detail.Exists() && detail.Type != gjson.String && detail.Type != gjson.Null {
		return ErrType(paramOf()+".detail", "a string")
	}
	return nil
}

func validateToolCalls(v gjson.Result, paramOf func() string) *apierr.Error {
	if !v.IsArray() {
		return ErrType(paramOf(), "an array")
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
		return ErrType(paramOf(), "an object")
	}
	var f [3]gjson.Result
	if dup := pickMembers(tc, toolCallMembers, f[:]); dup != "" {
		return ErrDuplicate(paramOf() + "." + dup)
	}
	id, typ, fn := f[0], f[1], f[2]
	if id.Exists() && id.Type != gjson.String && id.Type != gjson.Null {
		return ErrType(paramOf()+".id", "a string")
	}
	if typ.Exists() && typ.Type != gjson.String && typ.Type != gjson.Null {
		return ErrType(paramOf()+".type", "a string")
	}
	if !fn.IsObject() {
		return ErrType(paramOf()+".function", "an object")
	}
	var g [2]gjson.Result
	if dup := pickMembers(fn, functionMembers, g[:]); dup != "" {
		return ErrDuplicate(paramOf() + ".function." + dup)
	}
	name, args := g[0], g[1]
	if name.Type != gjson.String || name.Str == "" {
		return ErrType(paramOf()+".function.name", "a non-empty string")
	}
	if args.Exists() && args.Type != gjson.String && args.Type != gjson.Null {
		return ErrType(paramOf()+".function.arguments", "a string")
	}
	return nil
}

// imagePos locates the first image_url part of a request's messages.
type imagePos struct {
	found         bool
	message, part int
}

// The members validation reads, object by object.
var (
	messageMembers  = []string{"role", "content", "name", "tool_calls", "tool_call_id"}
	partMembers     = []string{"type", "text", "image_url", "refusal"}
	imageMembers    = []string{"url", "detail"}
	toolMembers     = []string{"type", "function"}
	toolCallMembers = []string{"id", "type", "function"}
	functionMembers = []string{"name", "arguments"}
)

// pickMembers fills out[i] with obj's member called names[i] and returns the
// name of the first of them that appears twice ("" when none): a request
// with a duplicate member could be read one way here and another way by the
// upstream, so it is refused.
func pickMembers(obj gjson.Result, names []string, out []gjson.Result) (dup string) {
	var seen uint32
	obj.ForEach(func(k, f gjson.Result) bool {
		for i, n := range names {
			if k.Str != n {
				continue
			}
			if seen&(1<<i) != 0 {
				dup = n
				return false
			}
			seen |= 1 << i
			out[i] = f
			return true
		}
		return true
	})
	return dup
}
