package responses

import (
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/openai"
)

// parseText reads text.format and converts it to a chat response_format:
// json_object as it is, json_schema with its name, schema, description and
// strict moved under "json_schema".
func (req *Request) parseText(v gjson.Result) *apierr.Error {
	if v.Type == gjson.Null {
		return nil
	}
	if !v.IsObject() {
		return openai.ErrType("text", "an object")
	}
	var err *apierr.Error
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "format":
			err = req.parseFormat(f)
		case "verbosity":
			if f.Type != gjson.String && f.Type != gjson.Null {
				err = openai.ErrType("text.verbosity", "a string")
			}
		default:
			err = errUnknown("text." + k.Str)
		}
		return err == nil
	})
	if err == nil {
		req.Text = json.RawMessage(strings.Clone(v.Raw))
	}
	return err
}

func (req *Request) parseFormat(f gjson.Result) *apierr.Error {
	if f.Type == gjson.Null {
		return nil
	}
	if !f.IsObject() {
		return openai.ErrType("text.format", "an object")
	}
	typ := f.Get("type")
	if typ.Type != gjson.String {
		return openai.ErrType("text.format.type", "a string")
	}
	switch typ.Str {
	case "text":
		return nil
	case "json_object":
		req.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
		return nil
	case "json_schema":
	default:
		return openai.ErrValue("text.format.type", "must be text, json_object or json_schema")
	}
	name, schema, desc, strict := f.Get("name"), f.Get("schema"), f.Get("description"), f.Get("strict")
	if name.Type != gjson.String || name.Str == "" {
		return openai.ErrType("text.format.name", "a non-empty string")
	}
	if !schema.IsObject() {
		return openai.ErrType("text.format.schema", "an object")
	}
	if desc.Exists() && desc.Type != gjson.String && desc.Type != gjson.Null {
		return openai.ErrType("text.format.description", "a string")
	}
	if strict.Exists() && strict.Type != gjson.True && strict.Type != gjson.False && strict.Type != gjson.Null {
		return openai.ErrType("text.format.strict", "a boolean")
	}
	js := struct {
		Name        string          `json:"name"`
		Schema      json.RawMessage `json:"schema"`
		Description string          `json:"description,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	}{Name: name.Str, Schema: json.RawMessage(schema.Raw), Description: desc.Str}
	if strict.Type == gjson.True || strict.Type == gjson.False {
		b := strict.Type == gjson.True
		js.Strict = &b
	}
	out, merr := json.Marshal(struct {
		Type       string `json:"type"`
		JSONSchema any    `json:"json_schema"`
	}{"json_schema", js})
	if merr != nil {
		return openai.ErrType("text.format.schema", "an object")
	}
	req.ResponseFormat = out
	return nil
}
