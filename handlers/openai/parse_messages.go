package openai

import (
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

func validateMessages(v gjson.Result, img *imagePos) *apierr.Error {
	if !v.IsArray() {
		return errType("messages", "an array")
	}
	var err *apierr.Error
	n := 0
	v.ForEach(func(_, m gjson.Result) bool {
		err = validateMessage(m, n, img)
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
func validateMessage(m gjson.Result, i int, img *imagePos) *apierr.Error {
	param := func(field string) string { return indexParam("messages", i) + field }
	if !m.IsObject() {
		return errType(param(""), "an object")
	}
	var f [5]gjson.Result
	if dup := pickMembers(m, messageMembers, f[:]); dup != "" {
		return errDuplicate(param("." + dup))
	}
	role, content, name, toolCalls, toolCallID := f[0], f[1], f[2], f[3], f[4]

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
		return errType(param(".content"), "a string or an array of content parts")
	}
	return nil
}

func validatePart(part gjson.Result, role string, paramOf func() string) *apierr.Error {
	if !part.IsObject() {
		return errType(paramOf(), "an object")
	}
	var f [4]gjson.Result
	if dup := pickMembers(part, partMembers, f[:]); dup != "" {
		return errDuplicate(paramOf() + "." + dup)
	}
	typ, text, image, refusal := f[0], f[1], f[2], f[3]
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
	var f [2]gjson.Result
	if dup := pickMembers(image, imageMembers, f[:]); dup != "" {
		return errDuplicate(paramOf() + "." + dup)
	}
	url, detail := f[0], f[1]
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
	var f [3]gjson.Result
	if dup := pickMembers(tc, toolCallMembers, f[:]); dup != "" {
		return errDuplicate(paramOf() + "." + dup)
	}
	id, typ, fn := f[0], f[1], f[2]
	if id.Exists() && id.Type != gjson.String && id.Type != gjson.Null {
		return errType(paramOf()+".id", "a string")
	}
	if typ.Exists() && typ.Type != gjson.String && typ.Type != gjson.Null {
		return errType(paramOf()+".type", "a string")
	}
	if !fn.IsObject() {
		return errType(paramOf()+".function", "an object")
	}
	var g [2]gjson.Result
	if dup := pickMembers(fn, functionMembers, g[:]); dup != "" {
		return errDuplicate(paramOf() + ".function." + dup)
	}
	name, args := g[0], g[1]
	if name.Type != gjson.String || name.Str == "" {
		return errType(paramOf()+".function.name", "a non-empty string")
	}
	if args.Exists() && args.Type != gjson.String && args.Type != gjson.Null {
		return errType(paramOf()+".function.arguments", "a string")
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
