package conversations

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

// Limits of OpenAI's Conversations API.
const (
	// MaxItemsPerRequest bounds the items of one create or append request.
	MaxItemsPerRequest = 20
	maxMetadataPairs   = 16
	maxMetadataKey     = 64
	maxMetadataValue   = 512
)

// validTitle trims a title and checks its length; param names it.
func validTitle(title, param string) (string, *apierr.Error) {
	title, err := conversation.ValidateTitle(title)
	if err != nil {
		return "", apierr.Invalid(param, "invalid_value", err.Error())
	}
	return title, nil
}

// validContent checks the content of an item about to be stored (see
// conversation.ValidateContent); param names the content in errors.
func validContent(parts []store.ContentPart, param string) *apierr.Error {
	if err := conversation.ValidateContent(parts); err != nil {
		return apierr.Invalid(param, "invalid_value", err.Error())
	}
	return nil
}

// itemInput is one item of a request, in the shape of OpenAI's input message
// (the "easy" form with string content included).
type itemInput struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Status  string          `json:"status"`
	Content json.RawMessage `json:"content"`
}

// isZero reports whether none of the item's fields were given.
func (in *itemInput) isZero() bool {
	return in.Type == "" && in.Role == "" && in.Status == "" && len(in.Content) == 0
}

// partInput is one content part of a request.
type partInput struct {
	Type     string          `json:"type"`
	Text     *string         `json:"text"`
	Refusal  *string         `json:"refusal"`
	ImageURL json.RawMessage `json:"image_url"` // a URL string, or {"url": …} as in chat completions
}

// storeItems validates items given in a request and returns them as store
// items. param is the name of the list in the request ("items"); errors name
// the element at fault, as in "items[2].role". An empty param means the
// request body was one bare item, and errors name its fields alone ("role").
func storeItems(ins []itemInput, param string) ([]store.Item, *apierr.Error) {
	if len(ins) > MaxItemsPerRequest {
		return nil, apierr.Invalid("items", "too_many_items",
			"at most "+strconv.Itoa(MaxItemsPerRequest)+" items can be added at once")
	}
	items := make([]store.Item, len(ins))
	for i := range ins {
		elem := ""
		if param != "" {
			elem = param + "[" + strconv.Itoa(i) + "]"
		}
		it, aerr := ins[i].storeItem(elem)
		if aerr != nil {
			return nil, aerr
		}
		items[i] = it
	}
	return items, nil
}

// storeItem validates one item; param names it in errors ("" for a request
// body that is the item itself).
func (in *itemInput) storeItem(param string) (store.Item, *apierr.Error) {
	if in.Type != "" && in.Type != "message" {
		return store.Item{}, apierr.Invalid(join(param, "type"), "invalid_value",
			"only items of type 'message' can be stored")
	}
	switch in.Role {
	case conversation.RoleUser, conversation.RoleAssistant, conversation.RoleSystem, conversation.RoleDeveloper:
	case "":
		return store.Item{}, apierr.Invalid(join(param, "role"), "missing_required_parameter", "role is required")
	default:
		return store.Item{}, apierr.Invalid(join(param, "role"), "invalid_value",
			"role must be one of 'user', 'assistant', 'system', 'developer'")
	}
	status := in.Status
	switch status {
	case "":
		status = store.ItemStatusCompleted
	case store.ItemStatusCompleted, store.ItemStatusIncomplete, store.ItemStatusInProgress:
	default:
		return store.Item{}, apierr.Invalid(join(param, "status"), "invalid_value",
			"status must be one of 'completed', 'incomplete', 'in_progress'")
	}
	content, aerr := storeContent(in.Content, in.Role, join(param, "content"))
	if aerr == nil {
		aerr = validContent(content, join(param, "content"))
	}
	if aerr != nil {
		return store.Item{}, aerr
	}
	return store.Item{Type: "message", Role: in.Role, Status: status, Content: content}, nil
}

// storeContent validates an item's content: a string, stored as one text
// part of the role's type, or an array of parts.
func storeContent(raw json.RawMessage, role, param string) ([]store.ContentPart, *apierr.Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, apierr.Invalid(param, "missing_required_parameter", "content is required")
	}
	switch raw[0] {
	case '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, httpx.JSONError(err)
		}
		return []store.ContentPart{{Type: conversation.TextPartType(role), Text: text}}, nil
	case '[':
		var parts []json.RawMessage
		if err := json.Unmarshal(raw, &parts); err != nil {
			return nil, httpx.JSONError(err)
		}
		out := make([]store.ContentPart, len(parts))
		for i, rawPart := range parts {
			partParam := param + "[" + strconv.Itoa(i) + "]"
			var p partInput
			if err := json.Unmarshal(rawPart, &p); err != nil {
				return nil, invalidType(partParam, "a content part object with string fields")
			}
			part, aerr := p.storePart(partParam)
			if aerr != nil {
				return nil, aerr
			}
			out[i] = part
		}
		return out, nil
	}
	return nil, invalidType(param, "a string or an array of content parts")
}

func (p *partInput) storePart(param string) (store.ContentPart, *apierr.Error) {
	switch p.Type {
	case conversation.PartInputText, conversation.PartOutputText:
		if p.Text == nil {
			return store.ContentPart{}, apierr.Invalid(join(param, "text"), "missing_required_parameter",
				"a "+p.Type+" part needs text")
		}
		return store.ContentPart{Type: p.Type, Text: *p.Text}, nil
	case conversation.PartRefusal:
		if p.Refusal == nil {
			return store.ContentPart{}, apierr.Invalid(join(param, "refusal"), "missing_required_parameter",
				"a refusal part needs refusal")
		}
		return store.ContentPart{Type: p.Type, Text: *p.Refusal}, nil
	case conversation.PartInputImage:
		url := imageURL(p.ImageURL)
		if url == "" {
			return store.ContentPart{}, apierr.Invalid(join(param, "image_url"), "missing_required_parameter",
				"an input_image part needs image_url")
		}
		return store.ContentPart{Type: p.Type, ImageURL: url}, nil
	case "":
		return store.ContentPart{}, apierr.Invalid(join(param, "type"), "missing_required_parameter",
			"a content part needs a type")
	}
	return store.ContentPart{}, apierr.Invalid(join(param, "type"), "invalid_value",
		"content part type must be one of 'input_text', 'output_text', 'refusal', 'input_image'")
}

// imageURL reads image_url given as a string or as {"url": …}; "" when it is
// neither.
func imageURL(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.URL
	}
	return ""
}

// validateMetadata applies OpenAI's metadata limits: at most 16 pairs, keys
// of at most 64 characters, values of at most 512.
func validateMetadata(m map[string]string) *apierr.Error {
	if len(m) > maxMetadataPairs {
		return apierr.Invalid("metadata", "invalid_value",
			"metadata can hold at most "+strconv.Itoa(maxMetadataPairs)+" pairs")
	}
	for k, v := range m {
		if utf8.RuneCountInString(k) > maxMetadataKey {
			return apierr.Invalid("metadata", "invalid_value",
				"metadata keys can be at most "+strconv.Itoa(maxMetadataKey)+" characters long")
		}
		if utf8.RuneCountInString(v) > maxMetadataValue {
			return apierr.Invalid("metadata."+k, "invalid_value",
				"metadata values can be at most "+strconv.Itoa(maxMetadataValue)+" characters long")
		}
	}
	return nil
}

func invalidType(param, want string) *apierr.Error {
	return apierr.Invalid(param, "invalid_type", "invalid type for '"+param+"': expected "+want)
}

// join names a field of the element param ("" for the request body itself).
func join(param, field string) string {
	if param == "" {
		return field
	}
	return param + "." + field
}
