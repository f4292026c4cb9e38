package responses_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	provopenai "github.com/caddy-llm/gateway/handlers/provider/openai"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/handlers/responses"
	"github.com/caddy-llm/gateway/store/memory"
)

// observer records the outcomes the handler reports.
type observer struct {
	mu   sync.Mutex
	done []chat.Outcome
}

func (o *observer) FirstByte(*http.Request, *chat.Outcome) {}
func (o *observer) Done(_ *http.Request, out *chat.Outcome) {
	o.mu.Lock()
	o.done = append(o.done, *out)
	o.mu.Unlock()
}

func (o *observer) last(t *testing.T) chat.Outcome {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.done) == 0 {
		t.Fatal("no outcome reported")
	}
	return o.done[len(o.done)-1]
}

// newServer serves the Responses API on the mock provider and a memory
// store, with alice and bob as users.
func newServer(t *testing.T, tune ...func(*responses.Handler)) (*httpxtest.Server, *observer) {
	t.Helper()
	p, err := mock.New(mock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return newServerWith(t, []provider.Provider{p}, provider.RouterConfig{}, tune...)
}

// newServerWith is newServer on the given providers.
func newServerWith(t *testing.T, providers []provider.Provider, cfg provider.RouterConfig, tune ...func(*responses.Handler)) (*httpxtest.Server, *observer) {
	t.Helper()
	router, err := provider.NewRouter(providers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	obs := &observer{}
	h := &responses.Handler{Router: router, Store: st, Observer: obs}
	for _, f := range tune {
		f(h)
	}
	return httpxtest.NewServer(t, st, h), obs
}

// Every malformed field is a 400 naming it, in the spec's error shape,
// before anything goes upstream or into the store.
func TestRequestErrors(t *testing.T) {
	s, obs := newServer(t, func(h *responses.Handler) { h.MaxBodyBytes = 64 << 10 })
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	tests := []struct {
		name, body  string
		status      int
		code, param string
	}{
		{"not JSON", `{"model":`, 400, "invalid_json", ""},
		{"not an object", `[1]`, 400, "invalid_json", ""},
		{"deeply nested", `{"model":"jan-v1-4b","input":` + deep + `}`, 400, "invalid_json", ""},
		{"too large", `{"model":"jan-v1-4b","input":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "request_too_large", ""},
		{"no model", `{"input":"hi"}`, 400, "missing_required_parameter", "model"},
		{"no input", `{"model":"jan-v1-4b"}`, 400, "missing_required_parameter", "input"},
		{"unknown model", `{"model":"nope","input":"hi"}`, 400, "invalid_model", "model"},
		{"model type", `{"model":7,"input":"hi"}`, 400, "invalid_type", "model"},
		{"duplicate member", `{"model":"jan-v1-4b","model":"x","input":"hi"}`, 400, "duplicate_property", "model"},
		{"unknown parameter", `{"model":"jan-v1-4b","input":"hi","wizardry":1}`, 400, "unknown_parameter", "wizardry"},
		{"input type", `{"model":"jan-v1-4b","input":5}`, 400, "invalid_type", "input"},
		{"empty input", `{"model":"jan-v1-4b","input":[],"instructions":"x"}`, 400, "invalid_value", "input"},
		{"item not an object", `{"model":"jan-v1-4b","input":["hi"]}`, 400, "invalid_type", "input[0]"},
		{"unknown item type", `{"model":"jan-v1-4b","input":[{"type":"web_search_call","id":"x"}]}`, 400, "unsupported_value", "input[0].type"},
		{"item type type", `{"model":"jan-v1-4b","input":[{"type":3}]}`, 400, "invalid_type", "input[0].type"},
		{"no role", `{"model":"jan-v1-4b","input":[{"content":"x"}]}`, 400, "missing_required_parameter", "input[0].role"},
		{"bad role", `{"model":"jan-v1-4b","input":[{"role":"tool","content":"x"}]}`, 400, "invalid_value", "input[0].role"},
		{"no content", `{"model":"jan-v1-4b","input":[{"role":"user"}]}`, 400, "missing_required_parameter", "input[0].content"},
		{"content type", `{"model":"jan-v1-4b","input":[{"role":"user","content":{}}]}`, 400, "invalid_type", "input[0].content"},
		{"unknown part", `{"model":"jan-v1-4b","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, 400, "unsupported_value", "input[0].content[0].type"},
		{"part text type", `{"model":"jan-v1-4b","input":[{"role":"user","content":[{"type":"input_text","text":1}]}]}`, 400, "invalid_type", "input[0].content[0].text"},
		{"output text from the user", `{"model":"jan-v1-4b","input":[{"role":"user","content":[{"type":"output_text","text":"x"}]}]}`, 400, "invalid_value", "input[0].content[0].type"},
		{"image without url", `{"model":"jan-v1-4b","input":[{"role":"user","content":[{"type":"input_image"}]}]}`, 400, "missing_required_parameter", "input[0].content[0].image_url"},
		{"image file id", `{"model":"jan-v1-4b","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, 400, "unsupported_value", "input[0].content[0].file_id"},
		{"image detail", `{"model":"jan-v1-4b","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png","detail":"huge"}]}]}`, 400, "invalid_value", "input[0].content[0].detail"},
		{"image for a model without vision", `{"model":"jan-v1-4b","input":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"https://x/y.png"}]}]}`, 400, "invalid_value", "input[1].content[1]"},
		{"call without call_id", `{"model":"jan-v1-4b","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, 400, "missing_required_parameter", "input[0].call_id"},
		{"call arguments type", `{"model":"jan-v1-4b","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, 400, "invalid_type", "input[0].arguments"},
		{"output without output", `{"model":"jan-v1-4b","input":[{"type":"function_call_output","call_id":"c"}]}`, 400, "missing_required_parameter", "input[0].output"},
		{"output type", `{"model":"jan-v1-4b","input":[{"type":"function_call_output","call_id":"c","output":1}]}`, 400, "invalid_type", "input[0].output"},
		{"instructions type", `{"model":"jan-v1-4b","input":"hi","instructions":[]}`, 400, "invalid_type", "instructions"},
		{"previous id type", `{"model":"jan-v1-4b","input":"hi","previous_response_id":1}`, 400, "invalid_type", "previous_response_id"},
		{"previous id too long", `{"model":"jan-v1-4b","input":"hi","previous_response_id":"` + strings.Repeat("r", 200) + `"}`, 400, "invalid_value", "previous_response_id"},
		{"conversation type", `{"model":"jan-v1-4b","input":"hi","conversation":1}`, 400, "invalid_type", "conversation"},
		{"conversation id type", `{"model":"jan-v1-4b","input":"hi","conversation":{"id":1}}`, 400, "invalid_type", "conversation.id"},
		{"conversation and previous", `{"model":"jan-v1-4b","input":"hi","conversation":"conv_1","previous_response_id":"resp_1"}`, 400, "invalid_parameter", "conversation"},
		{"store type", `{"model":"jan-v1-4b","input":"hi","store":"yes"}`, 400, "invalid_type", "store"},
		{"stream type", `{"model":"jan-v1-4b","input":"hi","stream":1}`, 400, "invalid_type", "stream"},
		{"background", `{"model":"jan-v1-4b","input":"hi","background":true}`, 400, "unsupported_value", "background"},
		{"tools type", `{"model":"jan-v1-4b","input":"hi","tools":{}}`, 400, "invalid_type", "tools"},
		{"hosted tool", `{"model":"jan-v1-4b","input":"hi","tools":[{"type":"web_search"}]}`, 400, "unsupported_value", "tools[0].type"},
		{"tool without name", `{"model":"jan-v1-4b","input":"hi","tools":[{"type":"function"}]}`, 400, "missing_required_parameter", "tools[0].name"},
		{"tool parameters type", `{"model":"jan-v1-4b","input":"hi","tools":[{"type":"function","name":"f","parameters":"x"}]}`, 400, "invalid_type", "tools[0].parameters"},
		{"tool strict type", `{"model":"jan-v1-4b","input":"hi","tools":[{"type":"function","name":"f","strict":"x"}]}`, 400, "invalid_type", "tools[0].strict"},
		{"tool unknown member", `{"model":"jan-v1-4b","input":"hi","tools":[{"type":"function","name":"f","magic":1}]}`, 400, "unknown_parameter", "tools[0].magic"},
		{"tool_choice value", `{"model":"jan-v1-4b","input":"hi","tool_choice":"always"}`, 400, "invalid_value", "tool_choice"},
		{"tool_choice type", `{"model":"jan-v1-4b","input":"hi","tool_choice":1}`, 400, "invalid_type", "tool_choice"},
		{"tool_choice hosted", `{"model":"jan-v1-4b","input":"hi","tool_choice":{"type":"file_search"}}`, 400, "unsupported_value", "tool_choice.type"},
		{"tool_choice name", `{"model":"jan-v1-4b","input":"hi","tool_choice":{"type":"function"}}`, 400, "invalid_type", "tool_choice.name"},
		{"parallel_tool_calls type", `{"model":"jan-v1-4b","input":"hi","parallel_tool_calls":"no"}`, 400, "invalid_type", "parallel_tool_calls"},
		{"max_output_tokens type", `{"model":"jan-v1-4b","input":"hi","max_output_tokens":1.5}`, 400, "invalid_type", "max_output_tokens"},
		{"max_output_tokens zero", `{"model":"jan-v1-4b","input":"hi","max_output_tokens":0}`, 400, "invalid_value", "max_output_tokens"},
		{"max_output_tokens above the model's", `{"model":"jan-v1-4b","input":"hi","max_output_tokens":100000}`, 400, "invalid_value", "max_output_tokens"},
		{"temperature type", `{"model":"jan-v1-4b","input":"hi","temperature":"hot"}`, 400, "invalid_type", "temperature"},
		{"temperature range", `{"model":"jan-v1-4b","input":"hi","temperature":3}`, 400, "invalid_value", "temperature"},
		{"top_p range", `{"model":"jan-v1-4b","input":"hi","top_p":1.5}`, 400, "invalid_value", "top_p"},
		{"text type", `{"model":"jan-v1-4b","input":"hi","text":"json"}`, 400, "invalid_type", "text"},
		{"text format type", `{"model":"jan-v1-4b","input":"hi","text":{"format":{"type":"yaml"}}}`, 400, "invalid_value", "text.format.type"},
		{"json_schema without schema", `{"model":"jan-v1-4b","input":"hi","text":{"format":{"type":"json_schema","name":"p"}}}`, 400, "invalid_type", "text.format.schema"},
		{"json_schema without name", `{"model":"jan-v1-4b","input":"hi","text":{"format":{"type":"json_schema","schema":{}}}}`, 400, "invalid_type", "text.format.name"},
		{"metadata type", `{"model":"jan-v1-4b","input":"hi","metadata":[]}`, 400, "invalid_type", "metadata"},
		{"metadata value type", `{"model":"jan-v1-4b","input":"hi","metadata":{"k":1}}`, 400, "invalid_type", "metadata.k"},
		{"metadata too many", `{"model":"jan-v1-4b","input":"hi","metadata":{` + manyPairs(17) + `}}`, 400, "invalid_value", "metadata"},
		{"user type", `{"model":"jan-v1-4b","input":"hi","user":{}}`, 400, "invalid_type", "user"},
		{"too many parts", `{"model":"jan-v1-4b","input":[{"role":"user","content":[` + strings.TrimSuffix(strings.Repeat(`{"type":"input_text","text":"x"},`, responses.MaxPartsPerMessage+1), ",") + `]}]}`, 400, "invalid_value", "input[0].content"},
		{"too many tools", `{"model":"jan-v1-4b","input":"hi","tools":[` + manyTools(responses.MaxTools+1) + `]}`, 400, "invalid_value", "tools"},
		{"metadata key too long", `{"model":"jan-v1-4b","input":"hi","metadata":{"` + strings.Repeat("k", responses.MaxMetadataKeyLen+1) + `":"v"}}`, 400, "invalid_value", "metadata"},
		{"metadata value too long", `{"model":"jan-v1-4b","input":"hi","metadata":{"k":"` + strings.Repeat("v", responses.MaxMetadataValueLen+1) + `"}}`, 400, "invalid_value", "metadata.k"},
		{"too many items", `{"model":"jan-v1-4b","input":[` + strings.TrimSuffix(strings.Repeat(`{"role":"user","content":"x"},`, responses.MaxInputItems+1), ",") + `]}`, 400, "invalid_value", "input"},
		{"unknown previous response", `{"model":"jan-v1-4b","input":"hi","previous_response_id":"resp_nope"}`, 404, "not_found", "previous_response_id"},
		{"unknown conversation", `{"model":"jan-v1-4b","input":"hi","conversation":"conv_nope"}`, 404, "not_found", "conversation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Do(t, httpxtest.Alice, "POST", "/v1/responses", tt.body).WantError(t, tt.status, tt.code, tt.param)
			if out := obs.last(t); out.Status != tt.status || out.ErrorCode != tt.code {
				t.Errorf("outcome status %d code %q, want %d %q", out.Status, out.ErrorCode, tt.status, tt.code)
			}
		})
	}
	s.Do(t, "", "POST", "/v1/responses", `{"model":"jan-v1-4b","input":"hi"}`).WantError(t, 401, "unauthorized", "")
}

// manyTools returns n function tools, each with its own name.
func manyTools(n int) string {
	tools := make([]string, n)
	for i := range tools {
		tools[i] = `{"type":"function","name":"f` + strconv.Itoa(i) + `"}`
	}
	return strings.Join(tools, ",")
}

func manyPairs(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":"v"`)
	}
	return b.String()
}

// Stored responses are their owner's: another user's id is a 404 on every
// route, and a response created with "store": false is not kept.
func TestOwnerOnly(t *testing.T) {
	s, obs := newServer(t)
	var created struct {
		ID     string
		Status string
		Usage  struct{ InputTokens, OutputTokens, TotalTokens int } `json:"usage"`
		Output []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
	}
	s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "hello"}).Want(t, 200).Decode(t, &created)
	if created.Status != "completed" || len(created.Output) != 1 || created.Output[0].Content[0].Type != "output_text" || created.Output[0].Content[0].Text == "" {
		t.Fatalf("created: %+v", created)
	}
	if out := obs.last(t); out.Status != 200 || out.Model != "jan-v1-4b" || out.Provider != "mock" || !out.HasUsage || out.Usage.CompletionTokens == 0 {
		t.Errorf("outcome %+v, want a 200 with usage", out)
	}
	for _, route := range []struct{ method, path string }{
		{"GET", "/v1/responses/" + created.ID},
		{"GET", "/v1/responses/" + created.ID + "/input_items"},
		{"DELETE", "/v1/responses/" + created.ID},
	} {
		s.Do(t, httpxtest.Bob, route.method, route.path, nil).WantError(t, 404, "not_found", "")
		s.Do(t, "", route.method, route.path, nil).WantError(t, 401, "unauthorized", "")
	}
	s.Do(t, httpxtest.Bob, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "x", "previous_response_id": created.ID}).
		WantError(t, 404, "not_found", "previous_response_id")
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID, nil).Want(t, 200)

	var unstored struct{ ID string }
	s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "x", "store": false}).Want(t, 200).Decode(t, &unstored)
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+unstored.ID, nil).WantError(t, 404, "not_found", "")

	var gone struct {
		ID      string
		Object  string
		Deleted bool
	}
	s.Do(t, httpxtest.Alice, "DELETE", "/v1/responses/"+created.ID, nil).Want(t, 200).Decode(t, &gone)
	if gone.ID != created.ID || gone.Object != "response.deleted" || !gone.Deleted {
		t.Errorf("delete answered %+v", gone)
	}
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID, nil).WantError(t, 404, "not_found", "")
}

// input_items pages like a conversation's items: newest first, limit,
// after, order, has_more, and a 400 for a cursor that is not an item of it.
func TestInputItemsPagination(t *testing.T) {
	s, _ := newServer(t)
	var created struct{ ID string }
	s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": []any{
		map[string]any{"role": "developer", "content": "be kind"},
		map[string]any{"role": "user", "content": "one"},
		map[string]any{"role": "assistant", "content": "two"},
		map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": "three"}}},
	}}).Want(t, 200).Decode(t, &created)
	type page struct {
		Object  string
		Data    []struct{ ID, Type, Role string }
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
		HasMore bool   `json:"has_more"`
	}
	var all page
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID+"/input_items", nil).Want(t, 200).Decode(t, &all)
	var roles []string
	for _, it := range all.Data {
		roles = append(roles, it.Role)
	}
	if all.Object != "list" || strings.Join(roles, ",") != "user,assistant,user,developer" || all.HasMore {
		t.Fatalf("input items (newest first): %+v", all)
	}
	var p1, p2 page
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID+"/input_items?order=asc&limit=3", nil).Want(t, 200).Decode(t, &p1)
	if len(p1.Data) != 3 || !p1.HasMore || p1.Data[0].Role != "developer" || p1.LastID != p1.Data[2].ID {
		t.Fatalf("first page: %+v", p1)
	}
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID+"/input_items?order=asc&limit=3&after="+p1.LastID, nil).Want(t, 200).Decode(t, &p2)
	if len(p2.Data) != 1 || p2.HasMore || p2.Data[0].ID != all.Data[0].ID {
		t.Fatalf("second page: %+v", p2)
	}
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID+"/input_items?after=msg_nope", nil).WantError(t, 400, "invalid_cursor", "after")
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+created.ID+"/input_items?limit=1000", nil).WantError(t, 400, "invalid_value", "limit")
}

// A max_output_tokens the answer reaches makes the response incomplete,
// as OpenAI reports it.
func TestMaxOutputTokensIncomplete(t *testing.T) {
	s, _ := newServer(t)
	var resp struct {
		Status            string
		MaxOutputTokens   int `json:"max_output_tokens"`
		IncompleteDetails *struct {
			Reason string
		} `json:"incomplete_details"`
	}
	s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "Tell me a long story", "max_output_tokens": 2}).Want(t, 200).Decode(t, &resp)
	if resp.Status != "incomplete" || resp.IncompleteDetails == nil || resp.IncompleteDetails.Reason != "max_output_tokens" || resp.MaxOutputTokens != 2 {
		t.Fatalf("response %+v, want incomplete for max_output_tokens", resp)
	}
}

// sseEvents reads a Responses stream: each event's "event:" name and its
// data, whose type must repeat the name and whose sequence_number must
// count from 0.
func sseEvents(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		name, data, ok := strings.Cut(block, "\ndata: ")
		if !ok || !strings.HasPrefix(name, "event: ") {
			t.Fatalf("event %d is not an event: and a data: line: %q", i, block)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %d data is not JSON: %v: %s", i, err, data)
		}
		if ev["type"] != strings.TrimPrefix(name, "event: ") || ev["sequence_number"] != float64(i) {
			t.Fatalf("event %d: %s with data type %v, sequence_number %v", i, name, ev["type"], ev["sequence_number"])
		}
		out = append(out, ev)
	}
	return out
}

// A streamed function call: the item is added with empty arguments, the
// arguments come as deltas, and done events carry them whole; the stored
// response equals the completed event's.
func TestStreamedFunctionCall(t *testing.T) {
	s, obs := newServer(t)
	r := s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{
		"model": "jan-v1-4b", "input": "Weather in Paris?", "stream": true,
		"tools": []any{map[string]any{"type": "function", "name": "get_weather", "parameters": map[string]any{
			"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}}}},
	}).Want(t, 200)
	// As chat streams: not cached, and not held back by a buffering proxy.
	if h := r.Header; h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("stream header %v", h)
	}
	events := sseEvents(t, r.Body)
	var types []string
	var args strings.Builder
	for _, ev := range events {
		typ := ev["type"].(string)
		if len(types) == 0 || types[len(types)-1] != typ {
			types = append(types, typ)
		}
		if typ == "response.function_call_arguments.delta" {
			args.WriteString(ev["delta"].(string))
		}
	}
	want := "response.created response.in_progress response.output_item.added response.function_call_arguments.delta response.function_call_arguments.done response.output_item.done response.completed"
	if strings.Join(types, " ") != want {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(types, " "), want)
	}
	added := events[2]["item"].(map[string]any)
	done := events[len(events)-2]["item"].(map[string]any)
	if added["type"] != "function_call" || added["status"] != "in_progress" || added["arguments"] != "" || added["name"] != "get_weather" {
		t.Errorf("added item %v", added)
	}
	if done["status"] != "completed" || done["arguments"] != args.String() || args.Len() == 0 || done["call_id"] != added["call_id"] || done["id"] != added["id"] {
		t.Errorf("done item %v, arguments streamed %q", done, args.String())
	}
	final := events[len(events)-1]["response"].(map[string]any)
	var stored map[string]any
	s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+final["id"].(string), nil).Want(t, 200).Decode(t, &stored)
	if fmt.Sprint(stored["output"]) != fmt.Sprint(final["output"]) || stored["status"] != "completed" {
		t.Errorf("stored %v\nstreamed %v", stored["output"], final["output"])
	}
	if out := obs.last(t); out.Status != 200 || !out.Stream || out.Incomplete || !out.HasUsage {
		t.Errorf("outcome %+v", out)
	}
}

func openAIProvider(t *testing.T, id, baseURL string) provider.Provider {
	t.Helper()
	p, err := provopenai.New(provopenai.Config{ID: id, BaseURL: baseURL, APIKey: "sk-upstream-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// A deployment that fails before answering is left for the next one before
// the client sees a byte; when every one fails, the client gets the
// upstream error as chat does, and nothing is stored.
func TestFailoverAndUpstreamErrors(t *testing.T) {
	broken := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.WriteJSON(w, http.StatusInternalServerError, providertest.ErrorBody("boom", "server_error", "boom"))
	}))
	healthy := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "from the healthy one"})
	s, obs := newServerWith(t, []provider.Provider{openAIProvider(t, "broken", broken.URL+"/v1"), openAIProvider(t, "healthy", healthy.URL+"/v1")},
		provider.RouterConfig{Models: []provider.ModelConfig{
			{ID: "m", Deployments: []provider.DeploymentConfig{{Provider: "broken"}, {Provider: "healthy"}}},
			{ID: "down", Deployments: []provider.DeploymentConfig{{Provider: "broken"}}},
		}})
	for _, stream := range []bool{false, true} {
		r := s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "m", "input": "hi", "stream": stream}).Want(t, 200)
		if !strings.Contains(string(r.Body), "from the healthy one") && !strings.Contains(string(r.Body), `"delta":"healthy"`) {
			t.Fatalf("stream=%v: %s", stream, r.Body)
		}
		if out := obs.last(t); out.Provider != "healthy" || out.Tries < 1 {
			t.Errorf("stream=%v: outcome %+v", stream, out)
		}
	}
	for _, stream := range []bool{false, true} {
		s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "down", "input": "hi", "stream": stream}).WantError(t, 502, "upstream_error", "")
	}
}

// A client that goes away mid-stream cancels the upstream call, and what
// was produced is stored as a failed response with incomplete items.
func TestClientGoneMidStream(t *testing.T) {
	upstreamDone := make(chan struct{})
	slow := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(upstreamDone)
		providertest.StartSSE(w)
		providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Half"},"finish_reason":null}]}`)
		<-r.Context().Done() // until the gateway gives up on it
	}))
	s, obs := newServerWith(t, []provider.Provider{openAIProvider(t, "slow", slow.URL+"/v1")},
		provider.RouterConfig{Models: []provider.ModelConfig{{ID: "m", Deployments: []provider.DeploymentConfig{{Provider: "slow"}}}}})
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/responses", strings.NewReader(`{"model":"m","input":"hi","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+httpxtest.Alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var id string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") && id == "" {
			var ev struct{ Response struct{ ID string } }
			_ = json.Unmarshal([]byte(line[6:]), &ev)
			id = ev.Response.ID
		}
		if strings.Contains(line, `"delta":"Half"`) {
			break
		}
	}
	cancel()
	resp.Body.Close()
	select {
	case <-upstreamDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream call was not cancelled")
	}
	var stored struct {
		Status string
		Error  struct{ Code string }
		Output []struct {
			Status  string
			Content []struct{ Text string }
		}
	}
	for range 100 { // the handler records after it sees the cut
		r := s.Do(t, httpxtest.Alice, "GET", "/v1/responses/"+id, nil)
		if r.Status == 200 {
			r.Decode(t, &stored)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if stored.Status != "failed" || stored.Error.Code != "client_closed_request" || len(stored.Output) != 1 ||
		stored.Output[0].Status != "incomplete" || stored.Output[0].Content[0].Text != "Half" {
		t.Fatalf("stored %+v", stored)
	}
	for range 100 { // Done is reported once the handler returns
		obs.mu.Lock()
		n := len(obs.done)
		obs.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := obs.last(t); !out.Incomplete || out.ErrorCode != "client_closed_request" {
		t.Errorf("outcome %+v", out)
	}
}

// Text then two tool calls in one streamed answer: each item is closed
// (its done events) before the next is added, output indexes count up,
// and the final output holds the three in order.
func TestStreamedItemsInOrder(t *testing.T) {
	chunk := func(delta, finish string) string {
		return `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}`
	}
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		for _, c := range []string{
			chunk(`{"role":"assistant","content":"Let me "}`, "null"),
			chunk(`{"content":"check."}`, "null"),
			chunk(`{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":"}}]}`, "null"),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}`, "null"),
			chunk(`{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}`, "null"),
			chunk(`{}`, `"tool_calls"`),
		} {
			providertest.SendData(w, c)
		}
		providertest.SendData(w, "[DONE]")
	}))
	s, _ := newServerWith(t, []provider.Provider{openAIProvider(t, "up", up.URL+"/v1")},
		provider.RouterConfig{Models: []provider.ModelConfig{{ID: "m", Deployments: []provider.DeploymentConfig{{Provider: "up"}}}}})
	r := s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{
		"model": "m", "input": "hi", "stream": true,
		"tools": []any{map[string]any{"type": "function", "name": "get_weather"}, map[string]any{"type": "function", "name": "get_time"}},
	}).Want(t, 200)
	var got []string
	for _, ev := range sseEvents(t, r.Body) {
		typ := strings.TrimPrefix(ev["type"].(string), "response.")
		if idx, ok := ev["output_index"].(float64); ok {
			typ += fmt.Sprintf("@%d", int(idx))
		}
		if len(got) == 0 || got[len(got)-1] != typ {
			got = append(got, typ)
		}
	}
	want := "created in_progress " +
		"output_item.added@0 content_part.added@0 output_text.delta@0 output_text.done@0 content_part.done@0 output_item.done@0 " +
		"output_item.added@1 function_call_arguments.delta@1 function_call_arguments.done@1 output_item.done@1 " +
		"output_item.added@2 function_call_arguments.delta@2 function_call_arguments.done@2 output_item.done@2 completed"
	if strings.Join(got, " ") != want {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, " "), want)
	}
	var final struct {
		Output []struct {
			Type, Status, Name, Arguments string
			CallID                        string `json:"call_id"`
			Content                       []struct{ Text string }
		}
	}
	events := sseEvents(t, r.Body)
	raw, _ := json.Marshal(events[len(events)-1]["response"])
	if err := json.Unmarshal(raw, &final); err != nil || len(final.Output) != 3 {
		t.Fatalf("final response %s", raw)
	}
	o := final.Output
	if o[0].Type != "message" || o[0].Content[0].Text != "Let me check." ||
		o[1].CallID != "call_a" || o[1].Arguments != `{"city":"Paris"}` || o[1].Status != "completed" ||
		o[2].CallID != "call_b" || o[2].Name != "get_time" || o[2].Arguments != "{}" {
		t.Fatalf("final output %s", raw)
	}
}
