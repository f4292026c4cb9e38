package openai

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestUpstreamBody(t *testing.T) {
	tests := []struct {
		name, body, model, want string
		same                    bool // the body is returned unchanged
	}{
		{
			name:  "nothing to change",
			body:  `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
			model: "m",
			same:  true,
		},
		{
			name:  "model mapped, members kept in order",
			body:  `{"seed":1, "model" : "m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"x_custom":{"a":[1,2]}}`,
			model: "Qwen/Qwen3-4B",
			want:  `{"seed":1,"model":"Qwen/Qwen3-4B","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"x_custom":{"a":[1,2]}}`,
		},
		{
			name:  "stream gets include_usage",
			body:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`,
			model: "m",
			want:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name:  "stream_options kept and patched",
			body:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_obfuscation":false}}`,
			model: "m",
			want:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true}}`,
		},
		{
			name:  "stream_options include_usage false turned on",
			body:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":false}}`,
			model: "m",
			want:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name:  "stream with usage already asked",
			body:  `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
			model: "m",
			same:  true,
		},
		{
			name:  "gateway members dropped",
			body:  `{"conversation":"conv_1","model":"m","store":true,"messages":[{"role":"user","content":"x"}]}`,
			model: "m",
			want:  `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
		},
		{
			name:  "model needing escapes",
			body:  `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
			model: `we"ird`,
			want:  `{"model":"we\"ird","messages":[{"role":"user","content":"x"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			r, perr := ParseChatRequest(body)
			if perr != nil {
				t.Fatal(perr.Message)
			}
			got := r.UpstreamBody(body, tt.model)
			if tt.same {
				if &got[0] != &body[0] {
					t.Errorf("body was copied: %s", got)
				}
				return
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			_ = json.Unmarshal([]byte(tt.want), &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
