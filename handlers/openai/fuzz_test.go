package openai

import (
	"encoding/json"
	"testing"
)

// FuzzParseChatRequest checks that request decoding never panics and that
// what validation accepts is consistent: valid JSON, fully decodable with the
// same model and flags, and rewritten upstream into valid JSON that still
// validates with the upstream model.
func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hello"}],"max_tokens":100,"temperature":0.7,"stream":false}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"jan_1"}}]}],"stream":true}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"conversation":{"id":"conv_1"},"store":true,"stream":true,"stream_options":{"include_usage":false}}`))
	f.Add([]byte(`{"model":"m","model":"n"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, aerr := ParseChatRequest(body)
		if aerr != nil {
			if aerr.Status != 400 || aerr.Code == "" || aerr.Message == "" {
				t.Fatalf("malformed error %+v", aerr)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		full, err := DecodeChatRequest(body)
		if err != nil {
			t.Fatalf("accepted but not decodable: %v", err)
		}
		if full.Model != req.Model || full.Stream != req.Stream || full.IncludeUsage != req.IncludeUsage || full.OutputLimit() != req.MaxTokens {
			t.Fatalf("decode disagrees with parse: %+v vs %+v", full, req)
		}
		if len(full.Messages) == 0 {
			t.Fatal("accepted without messages")
		}
		up := req.UpstreamBody(body, "upstream/model")
		if !json.Valid(up) {
			t.Fatalf("upstream body is invalid JSON: %q", up)
		}
		again, aerr := ParseChatRequest(up)
		if aerr != nil {
			t.Fatalf("upstream body does not validate: %s", aerr.Message)
		}
		if again.Model != "upstream/model" || again.Stream != req.Stream || (req.Stream && !again.IncludeUsage) || again.gatewayMembers {
			t.Fatalf("upstream body lost something: %+v", again)
		}
	})
}
