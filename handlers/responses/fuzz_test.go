package responses

import (
	"encoding/json"
	"testing"

	"github.com/caddy-llm/gateway/handlers/openai"
)

// FuzzParseRequest checks that request parsing never panics, that its
// errors are 400s in the spec's shape, and that what it accepts translates
// into a chat completions body that the chat validation accepts too: a
// client can never make the gateway build an upstream request it would
// refuse from a chat client.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"jan-v1-4b","input":"Hello","instructions":"Be brief.","max_output_tokens":100,"temperature":0.7,"stream":true}`))
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"jan_1","detail":"low"}]}],"store":false}`))
	f.Add([]byte(`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"21"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"},"strict":true}],"tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false}`))
	f.Add([]byte(`{"model":"m","input":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x"},{"type":"refusal","refusal":"no"}]},{"role":"developer","content":"d"}],"previous_response_id":"resp_1"}`))
	f.Add([]byte(`{"model":"m","input":"x","conversation":{"id":"conv_1"},"text":{"format":{"type":"json_schema","name":"p","schema":{"type":"object"},"strict":true}},"metadata":{"a":"b"},"user":"u"}`))
	f.Add([]byte(`{"model":"m","input":"x","text":{"format":{"type":"json_object"}},"top_p":0.5,"reasoning":{},"include":[]}`))
	f.Add([]byte(`{"model":"m","model":"n"}`))
	f.Add([]byte(`{"model":"m","input":[{"type":"reasoning"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, aerr := ParseRequest(body)
		if aerr != nil {
			if aerr.Status != 400 || aerr.Code == "" || aerr.Message == "" || aerr.Type == "" {
				t.Fatalf("malformed error %+v", aerr)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if len(req.InputParams) != len(req.Input) {
			t.Fatalf("%d items but %d parameter names", len(req.Input), len(req.InputParams))
		}
		chat, err := chatBody(req, nil, withIDs(req.Input))
		if err != nil || !json.Valid(chat) {
			t.Fatalf("chat body %q: %v", chat, err)
		}
		if len(req.Input) == 0 && (req.Instructions == nil || *req.Instructions == "") {
			return // the context comes from the store: nothing to send alone
		}
		parsed, aerr := openai.ParseChatRequest(chat)
		if aerr != nil {
			t.Fatalf("the chat body of an accepted request is refused: %s (%s)\nrequest %s\nchat %s", aerr.Message, aerr.Param, body, chat)
		}
		if parsed.Model != req.Model || parsed.Stream != req.Stream || parsed.MaxTokens != req.MaxOutputTokens {
			t.Fatalf("chat body lost something: %+v vs %+v", parsed, req)
		}
		var echo struct{}
		if json.Unmarshal(req.Text, &echo) != nil || json.Unmarshal(req.ToolChoice, new(any)) != nil {
			t.Fatalf("echoed members are not JSON: %s %s", req.Text, req.ToolChoice)
		}
	})
}
