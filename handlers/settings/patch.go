package settings

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/store"
)

// A change is one validated field of a PATCH body, applied to the settings
// inside the store's transaction. Validation happens before the store is
// touched, so a bad request never starts one; only what depends on the
// stored value (the size of merged preferences) is checked by the change
// itself, whose error aborts the transaction.
type change func(*store.UserSettings) *apierr.Error

// fieldParser validates one field's raw JSON value; param names the field in
// errors ("memory_config.max_user_items").
type fieldParser func(raw json.RawMessage, param string) (change, *apierr.Error)

var memoryFields = map[string]fieldParser{
	"enabled":            boolField(func(s *store.UserSettings) *bool { return &s.MemoryConfig.Enabled }),
	"observe_enabled":    boolField(func(s *store.UserSettings) *bool { return &s.MemoryConfig.ObserveEnabled }),
	"inject_user_core":   boolField(func(s *store.UserSettings) *bool { return &s.MemoryConfig.InjectUserCore }),
	"inject_semantic":    boolField(func(s *store.UserSettings) *bool { return &s.MemoryConfig.InjectSemantic }),
	"inject_episodic":    boolField(func(s *store.UserSettings) *bool { return &s.MemoryConfig.InjectEpisodic }),
	"max_user_items":     intField(0, 20, func(s *store.UserSettings) *int { return &s.MemoryConfig.MaxUserItems }),
	"max_project_items":  intField(0, 50, func(s *store.UserSettings) *int { return &s.MemoryConfig.MaxProjectItems }),
	"max_episodic_items": intField(0, 20, func(s *store.UserSettings) *int { return &s.MemoryConfig.MaxEpisodicItems }),
	"min_similarity":     floatField(0, 1, func(s *store.UserSettings) *float64 { return &s.MemoryConfig.MinSimilarity }),
}

// Limits of the stored settings. The profile strings go into the system
// message of every chat turn, and preferences are read back whole with
// every settings request: both stay small.
const (
	// MaxNickNameLength bounds profile_settings.nick_name, in characters.
	MaxNickNameLength = 128
	// MaxOccupationLength bounds profile_settings.occupation, in characters.
	MaxOccupationLength = 256
	// MaxProfileTextLength bounds profile_settings.custom_instructions and
	// more_about_you, in characters.
	MaxProfileTextLength = 4096
	// MaxPreferencesBytes bounds preferences once merged: the bytes of its
	// JSON encoding.
	MaxPreferencesBytes = 64 << 10
)

var profileFields = map[string]fieldParser{
	"base_style":          baseStyleField,
	"custom_instructions": stringField(MaxProfileTextLength, func(s *store.UserSettings) *string { return &s.ProfileSettings.CustomInstructions }),
	"nick_name":           stringField(MaxNickNameLength, func(s *store.UserSettings) *string { return &s.ProfileSettings.NickName }),
	"nickname":            stringField(MaxNickNameLength, func(s *store.UserSettings) *string { return &s.ProfileSettings.NickName }), // alias, spec
	"occupation":          stringField(MaxOccupationLength, func(s *store.UserSettings) *string { return &s.ProfileSettings.Occupation }),
	"more_about_you":      stringField(MaxProfileTextLength, func(s *store.UserSettings) *string { return &s.ProfileSettings.MoreAboutYou }),
}

var advancedFields = map[string]fieldParser{
	"web_search":   boolField(func(s *store.UserSettings) *bool { return &s.AdvancedSettings.WebSearch }),
	"code_enabled": boolField(func(s *store.UserSettings) *bool { return &s.AdvancedSettings.CodeEnabled }),
}

var topFields = map[string]fieldParser{
	"memory_config":     groupField(memoryFields),
	"profile_settings":  groupField(profileFields),
	"advanced_settings": groupField(advancedFields),
	"enable_trace":      boolField(func(s *store.UserSettings) *bool { return &s.EnableTrace }),
	"enable_tools":      boolField(func(s *store.UserSettings) *bool { return &s.EnableTools }),
	"preferences":       preferencesField,
}

// parsePatch validates a PATCH body and returns its changes in a stable
// order. Unknown fields, wrong types and values out of range are 400s naming
// the field, as are a body nesting deeper than jsonguard.MaxDepth and a NUL
// character in any string.
func parsePatch(body []byte) ([]change, *apierr.Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if aerr := jsonguard.CheckStored(body); aerr != nil {
		return nil, aerr
	}
	return parseObject(body, "", topFields)
}

// parseObject parses one JSON object whose fields are those of fields;
// prefix is the object's own name in errors ("" for the body).
func parseObject(raw json.RawMessage, prefix string, fields map[string]fieldParser) ([]change, *apierr.Error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		if prefix == "" && err != nil {
			return nil, httpx.JSONError(err)
		}
		if prefix == "" {
			return nil, apierr.New(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object")
		}
		return nil, invalidType(prefix, "an object")
	}
	if _, ok := obj["nick_name"]; ok && fields["nick_name"] != nil {
		delete(obj, "nickname") // the canonical name wins over its alias
	}
	changes := make([]change, 0, len(obj))
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		param := key
		if prefix != "" {
			param = prefix + "." + key
		}
		parse, ok := fields[key]
		if !ok {
			return nil, apierr.Invalid(param, "unknown_parameter", "unknown parameter '"+param+"'")
		}
		c, aerr := parse(obj[key], param)
		if aerr != nil {
			return nil, aerr
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// groupField parses a settings group; its fields merge into the stored
// group, so fields not given keep their values.
func groupField(fields map[string]fieldParser) fieldParser {
	return func(raw json.RawMessage, param string) (change, *apierr.Error) {
		changes, aerr := parseObject(raw, param, fields)
		if aerr != nil {
			return nil, aerr
		}
		return func(s *store.UserSettings) *apierr.Error {
			for _, c := range changes {
				if aerr := c(s); aerr != nil {
					return aerr
				}
			}
			return nil
		}, nil
	}
}

func boolField(field func(*store.UserSettings) *bool) fieldParser {
	return func(raw json.RawMessage, param string) (change, *apierr.Error) {
		var v *bool
		if json.Unmarshal(raw, &v) != nil || v == nil {
			return nil, invalidType(param, "a boolean")
		}
		return func(s *store.UserSettings) *apierr.Error { *field(s) = *v; return nil }, nil
	}
}

// stringField parses a string of at most maxLength characters.
func stringField(maxLength int, field func(*store.UserSettings) *string) fieldParser {
	return func(raw json.RawMessage, param string) (change, *apierr.Error) {
		var v *string
		if json.Unmarshal(raw, &v) != nil || v == nil {
			return nil, invalidType(param, "a string")
		}
		if utf8.RuneCountInString(*v) > maxLength {
			return nil, apierr.Invalid(param, "invalid_value",
				param+" can be at most "+strconv.Itoa(maxLength)+" characters long")
		}
		return func(s *store.UserSettings) *apierr.Error { *field(s) = *v; return nil }, nil
	}
}

func intField(minimum, maximum int, field func(*store.UserSettings) *int) fieldParser {
	return func(raw json.RawMessage, param string) (change, *apierr.Error) {
		var v *float64
		if json.Unmarshal(raw, &v) != nil || v == nil || *v != math.Trunc(*v) {
			return nil, invalidType(param, "an integer")
		}
		if *v < float64(minimum) || *v > float64(maximum) {
			return nil, apierr.Invalid(param, "invalid_value",
				param+" must be from "+strconv.Itoa(minimum)+" to "+strconv.Itoa(maximum))
		}
		n := int(*v)
		return func(s *store.UserSettings) *apierr.Error { *field(s) = n; return nil }, nil
	}
}

func floatField(minimum, maximum float64, field func(*store.UserSettings) *float64) fieldParser {
	return func(raw json.RawMessage, param string) (change, *apierr.Error) {
		var v *float64
		if json.Unmarshal(raw, &v) != nil || v == nil {
			return nil, invalidType(param, "a number")
		}
		if *v < minimum || *v > maximum {
			return nil, apierr.Invalid(param, "invalid_value",
				param+" must be from "+strconv.FormatFloat(minimum, 'g', -1, 64)+" to "+strconv.FormatFloat(maximum, 'g', -1, 64))
		}
		return func(s *store.UserSettings) *apierr.Error { *field(s) = *v; return nil }, nil
	}
}

// baseStyleField accepts the spec's styles in any letter case and stores
// their canonical spelling.
func baseStyleField(raw json.RawMessage, param string) (change, *apierr.Error) {
	var v *string
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return nil, invalidType(param, "a string")
	}
	var style string
	for _, s := range []string{conversation.StyleConcise, conversation.StyleFriendly, conversation.StyleProfessional} {
		if strings.EqualFold(*v, s) {
			style = s
		}
	}
	if style == "" {
		return nil, apierr.Invalid(param, "invalid_value", param+" must be one of 'Concise', 'Friendly', 'Professional'")
	}
	return func(s *store.UserSettings) *apierr.Error { s.ProfileSettings.BaseStyle = style; return nil }, nil
}

// preferencesField merges the given object into the stored preferences as a
// JSON merge patch (RFC 7396): nested objects merge, a null value removes
// its key.
func preferencesField(raw json.RawMessage, param string) (change, *apierr.Error) {
	var patch map[string]any
	if json.Unmarshal(raw, &patch) != nil || patch == nil {
		return nil, invalidType(param, "an object")
	}
	return func(s *store.UserSettings) *apierr.Error {
		merged := mergePatch(s.Preferences, patch)
		if aerr := checkPreferencesSize(merged); aerr != nil {
			return aerr
		}
		s.Preferences = merged
		return nil
	}, nil
}

// mergePatch returns target with patch merged in. It changes neither input.
func mergePatch(target, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target)+len(patch))
	maps.Copy(out, target)
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			tv, _ := out[k].(map[string]any)
			out[k] = mergePatch(tv, pv)
		default:
			out[k] = v
		}
	}
	return out
}

func invalidType(param, want string) *apierr.Error {
	return apierr.Invalid(param, "invalid_type", "invalid type for '"+param+"': expected "+want)
}

// checkPreferencesSize refuses preferences that, merged, encode to more than
// MaxPreferencesBytes. It runs on the merged value, inside the store's
// transaction: each PATCH may be small while the merge keeps growing (40
// PATCHes once made 40 MB).
func checkPreferencesSize(prefs map[string]any) *apierr.Error {
	b, err := json.Marshal(prefs)
	if err != nil || len(b) > MaxPreferencesBytes {
		return apierr.Invalid("preferences", "invalid_value",
			"preferences can hold at most "+strconv.Itoa(MaxPreferencesBytes)+" bytes of JSON once merged")
	}
	return nil
}
