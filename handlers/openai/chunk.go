package openai

import (
	"bytes"

	"github.com/tidwall/gjson"
)

var jsonNull = []byte("null")

// ChunkInfo is what the gateway reads from one upstream chat.completion or
// chat.completion.chunk, found in one pass over its top-level members
// without decoding the rest.
type ChunkInfo struct {
	// ModelStart and ModelEnd delimit the raw (quoted) model value; both are
	// 0 when there is none.
	ModelStart, ModelEnd int
	// UsageStart and UsageEnd delimit the raw usage value when HasUsage.
	UsageStart, UsageEnd int
	// HasUsage reports a usage object (not null).
	HasUsage bool
	// Usage is the decoded usage when HasUsage.
	Usage Usage
	// NoChoices reports that choices is absent, null or empty: the chunk
	// only carries usage (or an error).
	NoChoices bool
	// HasError reports a non-null top-level error member: an upstream that
	// fails mid-stream sends one.
	HasError bool
}

// InspectChunk reads data, one JSON object. It reports false when data is
// not a JSON object.
func InspectChunk(data []byte) (ChunkInfo, bool) {
	info := ChunkInfo{NoChoices: true}
	root := parseRoot(data)
	if !root.IsObject() {
		return info, false
	}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			if v.Type == gjson.String {
				info.ModelStart, info.ModelEnd = v.Index, v.Index+len(v.Raw)
			}
		case "choices":
			info.NoChoices = !v.IsArray() || isEmptyArray(v.Raw)
		case "usage":
			if v.IsObject() {
				info.HasUsage = true
				info.UsageStart, info.UsageEnd = v.Index, v.Index+len(v.Raw)
				info.Usage = decodeUsage(v)
			}
		case "error":
			info.HasError = v.Exists() && v.Type != gjson.Null
		}
		return true
	})
	return info, true
}

func isEmptyArray(raw string) bool {
	for i := 1; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ']':
			return true
		}
		return false
	}
	return false
}

func decodeUsage(v gjson.Result) Usage {
	var u Usage
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			u.PromptTokens = int(f.Int())
		case "completion_tokens":
			u.CompletionTokens = int(f.Int())
		case "total_tokens":
			u.TotalTokens = int(f.Int())
		}
		return true
	})
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}

// ModelIs reports whether the chunk's model is the JSON string quoted (as
// AppendString writes it), or the chunk has no model.
func (c *ChunkInfo) ModelIs(data, quoted []byte) bool {
	return c.ModelEnd == 0 || bytes.Equal(data[c.ModelStart:c.ModelEnd], quoted)
}

// Rewrite appends data to dst with the model replaced by quotedModel (when
// it is not nil) and the usage replaced by null (when dropUsage). The spans
// are those InspectChunk found in data.
func (c *ChunkInfo) Rewrite(dst, data, quotedModel []byte, dropUsage bool) []byte {
	type edit struct {
		start, end int
		repl       []byte
	}
	var edits [2]edit
	n := 0
	if quotedModel != nil && c.ModelEnd > 0 {
		edits[n] = edit{c.ModelStart, c.ModelEnd, quotedModel}
		n++
	}
	if dropUsage && c.HasUsage {
		edits[n] = edit{c.UsageStart, c.UsageEnd, jsonNull}
		n++
	}
	if n == 2 && edits[0].start > edits[1].start {
		edits[0], edits[1] = edits[1], edits[0]
	}
	pos := 0
	for _, e := range edits[:n] {
		dst = append(dst, data[pos:e.start]...)
		dst = append(dst, e.repl...)
		pos = e.end
	}
	return append(dst, data[pos:]...)
}
