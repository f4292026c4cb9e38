package openai

import (
	"testing"
)

func TestInspectChunk(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		usage     *Usage
		noChoices bool
		hasError  bool
	}{
		{
			name: "content chunk",
			data: `{"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}`,
		},
		{
			name:      "usage-only chunk",
			data:      `{"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[ ],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
			usage:     &Usage{3, 4, 7},
			noChoices: true,
		},
		{
			name:  "usage on the last content chunk, total computed",
			data:  `{"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
			usage: &Usage{3, 4, 7},
		},
		{
			name:      "error event",
			data:      `{"error":{"message":"overloaded","type":"server_error"}}`,
			noChoices: true,
			hasError:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := InspectChunk([]byte(tt.data))
			if !ok {
				t.Fatal("not an object")
			}
			if (tt.usage != nil) != info.HasUsage || (tt.usage != nil && *tt.usage != info.Usage) {
				t.Errorf("usage = %v %+v, want %+v", info.HasUsage, info.Usage, tt.usage)
			}
			if info.NoChoices != tt.noChoices || info.HasError != tt.hasError {
				t.Errorf("noChoices %v hasError %v", info.NoChoices, info.HasError)
			}
		})
	}
	if _, ok := InspectChunk([]byte(`[1]`)); ok {
		t.Error("an array was taken for a chunk")
	}
}

func TestChunkRewrite(t *testing.T) {
	data := []byte(`{"id":"c","model":"Qwen/Qwen3-4B","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	info, _ := InspectChunk(data)
	public := AppendString(nil, "jan-v1-4b")
	if info.ModelIs(data, public) {
		t.Fatal("upstream model taken for the public one")
	}
	tests := []struct {
		name      string
		model     []byte
		dropUsage bool
		want      string
	}{
		{"model only", public, false, `{"id":"c","model":"jan-v1-4b","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`},
		{"usage only", nil, true, `{"id":"c","model":"Qwen/Qwen3-4B","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}`},
		{"both", public, true, `{"id":"c","model":"jan-v1-4b","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := info.Rewrite(nil, data, tt.model, tt.dropUsage); string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
