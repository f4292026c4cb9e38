package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// responsesGateway is a gateway on a fresh PostgreSQL database with an
// OpenAI-compatible upstream (story-model), an Anthropic one (claude-x) and
// one that dies mid-stream (dying-model).
type responsesGateway struct {
	*gateway
	vllm, claude *providertest.Upstream
}

const responsesReply = "Hello! The \"gateway\" answers — every word."

func startResponsesGateway(t *testing.T) *responsesGateway {
	t.Helper()
	vllm := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: responsesReply})
	claude := providertest.NewUpstream(t, &providertest.AnthropicServer{Reply: "Bonjour from Claude"})
	dying := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		for _, delta := range []string{`{"role":"assistant","content":""}`, `{"content":"Half"}`, `{"content":" a story"}`} {
			providertest.SendData(w, `{"id":"chatcmpl-d","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":`+delta+`,"finish_reason":null}]}`)
		}
		// Killed: the connection drops in the middle of the event stream.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	dsn := storetest.NewPostgresDatabase(t)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		provider vllm openai {
			base_url %s/v1
		}
		provider claude anthropic {
			base_url %s
			api_key test-anthropic-key
		}
		provider dying openai {
			base_url %s/v1
		}
		model story-model {
			deployment vllm
		}
		model claude-x {
			deployment claude claude-sonnet-4-5
		}
		model dying-model {
			deployment dying
		}`, dsn, vllm.URL, claude.URL, dying.URL),
		Routes: "llm_auth",
	}))
	return &responsesGateway{gateway: g, vllm: vllm, claude: claude}
}

// upstreamMessages returns the roles and texts of the messages the upstream
// got last, one "role: content" line each (tool calls and results named).
func upstreamMessages(t testing.TB, u *providertest.Upstream) []string {
	t.Helper()
	var body struct {
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(u.Last(t).Body, &body); err != nil {
		t.Fatalf("upstream body: %v", err)
	}
	var out []string
	for _, m := range body.Messages {
		var text string
		_ = json.Unmarshal(m.Content, &text)
		line := m.Role + ": " + text
		for _, c := range m.ToolCalls {
			line += " [call " + c.ID + " " + c.Function.Name + c.Function.Arguments + "]"
		}
		if m.ToolCallID != "" {
			line += " [result of " + m.ToolCallID + "]"
		}
		out = append(out, line)
	}
	return out
}

// The official OpenAI Go SDK, unchanged, uses the Responses API through a
// real Caddy on PostgreSQL: create plain and streamed, retrieve, list input
// items, delete, a tool call round trip through previous_response_id,
// structured output, a conversation filled by responses and read back
// through the Conversations API, an Anthropic model, and a stream cut
// mid-way.
func TestResponsesThroughCaddyWithSDK(t *testing.T) {
	g := startResponsesGateway(t)
	token := guestToken(t, g.gateway)
	client := sdkClient(g.gateway, token)
	ctx := context.Background()

	// Plain: instructions become the system message, the answer is a
	// message whose text the SDK's OutputText reads.
	resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "story-model",
		Instructions: oa.String("Be brief."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("Say hello")},
		Metadata:     map[string]string{"purpose": "test"},
	})
	if err != nil {
		t.Fatalf("responses.create: %v", err)
	}
	if resp.OutputText() != responsesReply || resp.Status != "completed" || !strings.HasPrefix(resp.ID, "resp_") ||
		resp.Model != "story-model" || resp.Usage.TotalTokens == 0 || resp.Usage.InputTokens == 0 || resp.Metadata["purpose"] != "test" {
		t.Fatalf("response: %s", resp.RawJSON())
	}
	if got := upstreamMessages(t, g.vllm); strings.Join(got, "\n") != "system: Be brief.\nuser: Say hello" {
		t.Errorf("upstream messages:\n%s", strings.Join(got, "\n"))
	}

	got, err := client.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
	if err != nil || got.OutputText() != responsesReply || got.ID != resp.ID || got.Status != "completed" {
		t.Fatalf("responses.retrieve = %v, %v", got, err)
	}
	items, err := client.Responses.InputItems.List(ctx, resp.ID, responses.InputItemListParams{})
	if err != nil || len(items.Data) != 1 || items.Data[0].Type != "message" || items.Data[0].Role != "user" ||
		items.Data[0].AsMessage().Content[0].Text != "Say hello" || !strings.HasPrefix(items.Data[0].ID, "msg_") {
		t.Fatalf("input_items.list = %+v, %v", items, err)
	}

	// Streamed: the full event sequence, numbered from 0, deltas that add
	// up to the text, and a stored response equal to the final event's.
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "story-model",
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Tell me a story")},
	})
	var (
		types []string
		text  strings.Builder
		final responses.Response
		seq   int64
	)
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != seq {
			t.Errorf("event %s has sequence_number %d, want %d", ev.Type, ev.SequenceNumber, seq)
		}
		seq++
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := "response.created response.in_progress response.output_item.added response.content_part.added response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed"
	if strings.Join(types, " ") != want {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(types, " "), want)
	}
	if text.String() != responsesReply || final.OutputText() != responsesReply || final.Status != "completed" || final.Usage.OutputTokens == 0 {
		t.Fatalf("streamed %q, final %s", text.String(), final.RawJSON())
	}
	if got, err := client.Responses.Get(ctx, final.ID, responses.ResponseGetParams{}); err != nil || got.OutputText() != responsesReply {
		t.Fatalf("the streamed response is not stored: %v %v", got, err)
	}

	// A tool call round trip: function_call → function_call_output with
	// previous_response_id; the upstream gets the whole exchange.
	weather := responses.ToolParamOfFunction("get_weather", map[string]any{
		"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}},
	}, false)
	call, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "story-model",
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Weather in Paris?")},
		Tools: []responses.ToolUnionParam{weather},
	})
	if err != nil {
		t.Fatalf("create with tools: %v", err)
	}
	if len(call.Output) != 1 || call.Output[0].Type != "function_call" {
		t.Fatalf("tool answer: %s", call.RawJSON())
	}
	fc := call.Output[0].AsFunctionCall()
	if fc.Name != "get_weather" || fc.Arguments != `{"location":"Paris"}` || fc.CallID == "" || !strings.HasPrefix(fc.ID, "fc_") {
		t.Fatalf("function call: %s", call.RawJSON())
	}
	next, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:              "story-model",
		PreviousResponseID: oa.String(call.ID),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
				CallID: oa.String(fc.CallID),
				Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: oa.String(`{"temp":21}`)},
			}},
		}},
	})
	if err != nil {
		t.Fatalf("create with the function's output: %v", err)
	}
	if next.OutputText() != responsesReply || next.PreviousResponseID != call.ID {
		t.Fatalf("answer after the tool: %s", next.RawJSON())
	}
	wantMsgs := "user: Weather in Paris?\nassistant:  [call " + fc.CallID + ` get_weather{"location":"Paris"}]` + "\ntool: {\"temp\":21} [result of " + fc.CallID + "]"
	if got := upstreamMessages(t, g.vllm); strings.Join(got, "\n") != wantMsgs {
		t.Errorf("upstream messages after the tool:\n%s\nwant:\n%s", strings.Join(got, "\n"), wantMsgs)
	}

	// Structured output: text.format json_schema reaches the upstream as
	// response_format.
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "story-model",
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("A person, as JSON")},
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
			OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{
				Name:   "person",
				Schema: map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}},
				Strict: oa.Bool(true),
			},
		}},
	})
	if err != nil {
		t.Fatalf("structured output: %v", err)
	}
	var sent struct {
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string         `json:"name"`
				Strict bool           `json:"strict"`
				Schema map[string]any `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(g.vllm.Last(t).Body, &sent); err != nil || sent.ResponseFormat.Type != "json_schema" ||
		sent.ResponseFormat.JSONSchema.Name != "person" || !sent.ResponseFormat.JSONSchema.Strict || sent.ResponseFormat.JSONSchema.Schema["type"] != "object" {
		t.Fatalf("upstream response_format: %s", g.vllm.Last(t).Body)
	}

	// Anthropic behind /v1/responses, plain and streamed.
	claude, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "claude-x",
		Instructions: oa.String("Be brief."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("Hi")},
	})
	if err != nil || claude.OutputText() != "Bonjour from Claude" || claude.Model != "claude-x" {
		t.Fatalf("anthropic response: %v %v", claude, err)
	}
	if sent := g.claude.Last(t).JSON(t); sent["model"] != "claude-sonnet-4-5" || sent["system"] == nil {
		t.Fatalf("anthropic upstream got %s", g.claude.Last(t).Body)
	}
	cs := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "claude-x",
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Hi")},
	})
	var claudeFinal responses.Response
	for cs.Next() {
		if ev := cs.Current(); ev.Type == "response.completed" {
			claudeFinal = ev.Response
		}
	}
	if err := cs.Err(); err != nil || claudeFinal.OutputText() != "Bonjour from Claude" {
		t.Fatalf("anthropic stream: %v, final %s", err, claudeFinal.RawJSON())
	}
	// A streamed tool call translated from Anthropic's tool_use block.
	cs = client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "claude-x",
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Weather in Paris?")},
		Tools: []responses.ToolUnionParam{weather},
	})
	var (
		claudeCall responses.Response
		argDeltas  strings.Builder
	)
	for cs.Next() {
		switch ev := cs.Current(); ev.Type {
		case "response.function_call_arguments.delta":
			argDeltas.WriteString(ev.Delta)
		case "response.completed":
			claudeCall = ev.Response
		}
	}
	// The fake Claude says something before it calls the tool: a message,
	// then the call.
	if err := cs.Err(); err != nil || len(claudeCall.Output) != 2 || claudeCall.OutputText() != "Bonjour from Claude" || claudeCall.Output[1].Type != "function_call" {
		t.Fatalf("anthropic streamed tool call: %v, final %s", err, claudeCall.RawJSON())
	}
	if fc := claudeCall.Output[1].AsFunctionCall(); fc.Name != "get_weather" || fc.CallID == "" || fc.Arguments == "" || fc.Arguments != argDeltas.String() {
		t.Fatalf("anthropic function call %+v, streamed arguments %q", fc, argDeltas.String())
	}

	// Hostile input through Caddy: 400s naming the parameter, Caddy's own
	// body limit a JSON 413.
	auth := []string{"Authorization", "Bearer " + token}
	for _, c := range []struct {
		body        any
		status      int
		code, param string
	}{
		{map[string]any{"model": "story-model", "input": []any{map[string]any{"type": "computer_call"}}}, 400, "unsupported_value", "input[0].type"},
		{map[string]any{"model": "story-model", "input": "x", "temperature": "warm"}, 400, "invalid_type", "temperature"},
		{map[string]any{"model": "story-model", "input": "x", "tools": []any{map[string]any{"type": "file_search"}}}, 400, "unsupported_value", "tools[0].type"},
		{`{"model":"story-model","input":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "invalid_json", ""},
		{`{"model":"story-model","input":"` + strings.Repeat("x", 11<<20) + `"}`, 413, "request_too_large", ""},
	} {
		e := wantError(t, g.do("POST", "/v1/responses", c.body, auth...), c.status, c.code)
		if p, _ := e["param"].(string); p != c.param {
			t.Errorf("%.60v: param %q, want %q", c.body, p, c.param)
		}
	}

	// Delete: gone for retrieve, input items and as a previous response.
	if err := client.Responses.Delete(ctx, resp.ID); err != nil {
		t.Fatalf("responses.delete: %v", err)
	}
	_, err = client.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
	wantSDKError(t, err, http.StatusNotFound, "not_found")
	wantSDKError(t, client.Responses.Delete(ctx, resp.ID), http.StatusNotFound, "not_found")
}

// A conversation filled through the Responses API reads back through the
// Conversations API, and its earlier turns are the context of the next.
func TestResponsesConversationOnPostgres(t *testing.T) {
	g := startResponsesGateway(t)
	token := guestToken(t, g.gateway)
	client := sdkClient(g.gateway, token)
	ctx := context.Background()
	auth := []string{"Authorization", "Bearer " + token}
	r := g.do("POST", "/v1/conversations", map[string]any{}, auth...)
	if r.Status != http.StatusOK {
		t.Fatalf("creating a conversation = %d %s", r.Status, r.Body)
	}
	conv, _ := r.JSON(t)["id"].(string)

	first, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "story-model",
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("First question")},
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(conv)},
	})
	if err != nil || first.Conversation.ID != conv {
		t.Fatalf("create in a conversation: %v %v", first, err)
	}
	// Streamed into it too.
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model:        "story-model",
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("Second question")},
		Conversation: responses.ResponseNewParamsConversationUnion{OfConversationObject: &responses.ResponseConversationParam{ID: conv}},
	})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream into a conversation: %v", err)
	}
	if got := upstreamMessages(t, g.vllm); strings.Join(got, "\n") != "user: First question\nassistant: "+responsesReply+"\nuser: Second question" {
		t.Errorf("the second turn's context:\n%s", strings.Join(got, "\n"))
	}
	items := turnItems(t, g.gateway, token, conv)
	want := []string{
		"user completed First question", "assistant completed " + responsesReply,
		"user completed Second question", "assistant completed " + responsesReply,
	}
	if strings.Join(items, "\n") != strings.Join(want, "\n") {
		t.Fatalf("conversation items:\n%s\nwant:\n%s", strings.Join(items, "\n"), strings.Join(want, "\n"))
	}
	// The SDK's Conversations API reads the same items, and the stored
	// response names the ones it appended.
	var sdkItems []string
	pager := client.Conversations.Items.ListAutoPaging(ctx, conv, conversations.ItemListParams{
		Limit: oa.Int(3), Order: conversations.ItemListParamsOrderAsc,
	})
	for pager.Next() {
		m := pager.Current().AsMessage()
		sdkItems = append(sdkItems, string(m.Role)+" "+m.Content[0].Text)
	}
	if err := pager.Err(); err != nil || len(sdkItems) != 4 || sdkItems[2] != "user Second question" || sdkItems[3] != "assistant "+responsesReply {
		t.Fatalf("conversations.items.list: %v %q", err, sdkItems)
	}
	r = g.do("GET", "/v1/conversations/"+conv, nil, auth...)
	if title, _ := r.JSON(t)["title"].(string); title != "First question" {
		t.Errorf("conversation title %q, want the first question", title)
	}

	// The upstream dies mid-stream: response.failed, never a completion;
	// the partial output is stored, incomplete, in the response and the
	// conversation.
	cut := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model:        "dying-model",
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("Another one")},
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(conv)},
	})
	var (
		last   responses.ResponseStreamEventUnion
		events []string
	)
	for cut.Next() {
		last = cut.Current()
		events = append(events, last.Type)
	}
	if err := cut.Err(); err != nil {
		t.Fatalf("cut stream: %v", err)
	}
	for _, e := range events {
		if e == "response.completed" {
			t.Fatalf("a cut stream completed: %v", events)
		}
	}
	if last.Type != "response.failed" || last.Response.Status != "failed" || last.Response.Error.Code == "" ||
		len(last.Response.Output) != 1 || last.Response.Output[0].Status != "incomplete" || last.Response.OutputText() != "Half a story" {
		t.Fatalf("last event %s: %s", last.Type, last.RawJSON())
	}
	stored, err := client.Responses.Get(ctx, last.Response.ID, responses.ResponseGetParams{})
	if err != nil || stored.Status != "failed" || stored.OutputText() != "Half a story" || stored.Output[0].Status != "incomplete" {
		t.Fatalf("stored cut response: %v %v", stored, err)
	}
	items = turnItems(t, g.gateway, token, conv)
	if len(items) != 6 || items[4] != "user completed Another one" || items[5] != "assistant incomplete Half a story" {
		t.Fatalf("items after the cut:\n%s", strings.Join(items, "\n"))
	}

	// Another user sees none of it.
	other := sdkClient(g.gateway, guestToken(t, g.gateway))
	_, err = other.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	wantSDKError(t, err, http.StatusNotFound, "not_found")
	_, err = other.Responses.InputItems.List(ctx, first.ID, responses.InputItemListParams{})
	wantSDKError(t, err, http.StatusNotFound, "not_found")
	wantSDKError(t, other.Responses.Delete(ctx, first.ID), http.StatusNotFound, "not_found")
	_, err = other.Responses.New(ctx, responses.ResponseNewParams{
		Model: "story-model", PreviousResponseID: oa.String(first.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Hi")},
	})
	wantSDKError(t, err, http.StatusNotFound, "not_found")
	_, err = other.Responses.New(ctx, responses.ResponseNewParams{
		Model: "story-model", Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(conv)},
		Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Hi")},
	})
	wantSDKError(t, err, http.StatusNotFound, "not_found")
	if _, err := client.Responses.Get(ctx, first.ID, responses.ResponseGetParams{}); err != nil {
		t.Fatalf("the owner lost the response: %v", err)
	}

	// A tool round trip in a conversation: the conversation keeps the call
	// as the assistant's text, so the output that answers it goes upstream
	// as text too (a tool message answering no tool call is refused by
	// OpenAI-compatible upstreams).
	r = g.do("POST", "/v1/conversations", map[string]any{}, auth...)
	toolConv, _ := r.JSON(t)["id"].(string)
	call, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "story-model",
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("Weather in Paris?")},
		Tools:        []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object"}, false)},
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(toolConv)},
	})
	if err != nil || len(call.Output) != 1 || call.Output[0].Type != "function_call" {
		t.Fatalf("tool call in a conversation: %v %v", call, err)
	}
	callID := call.Output[0].AsFunctionCall().CallID
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "story-model",
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(toolConv)},
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
				CallID: oa.String(callID),
				Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: oa.String("21C")},
			}},
		}},
	})
	if err != nil {
		t.Fatalf("tool output in a conversation: %v", err)
	}
	want = []string{
		"user: Weather in Paris?",
		`assistant: Tool call: get_weather({"location":"Paris"})`,
		"user: Result of tool call " + callID + ":\n21C",
	}
	if got := upstreamMessages(t, g.vllm); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upstream messages of the tool output turn:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The default Caddyfile serves the Responses API under /v1, /llm/v1 and
// Jan's /responses/v1, and counts its creations in the chat tier of the
// rate limiter.
func TestResponsesAliasesAndRateLimit(t *testing.T) {
	g, _ := startDefaultGateway(t, "RATE_LIMIT_GUEST", "3/min", "RATE_LIMIT_PER_IP", "1000/min")
	auth := bearerHeader(guestToken(t, g))
	var ids []string
	for _, path := range []string{"/v1/responses", "/llm/v1/responses", "/responses/v1/responses"} {
		r := g.do("POST", path, map[string]any{"model": "jan-v1-4b", "input": "Hi"}, auth...)
		if r.Status != http.StatusOK || r.JSON(t)["object"] != "response" {
			t.Fatalf("POST %s = %d %s", path, r.Status, r.Body)
		}
		if r.Header.Get("X-RateLimit-Limit") != "3" {
			t.Errorf("POST %s: X-RateLimit-Limit %q, want the guest tier's 3", path, r.Header.Get("X-RateLimit-Limit"))
		}
		ids = append(ids, r.JSON(t)["id"].(string))
	}
	for i, prefix := range []string{"/v1", "/llm/v1", "/responses/v1"} {
		if r := g.do("GET", prefix+"/responses/"+ids[i], nil, auth...); r.Status != http.StatusOK || r.JSON(t)["id"] != ids[i] {
			t.Errorf("GET %s/responses/{id} = %d %s", prefix, r.Status, r.Body)
		}
		if r := g.do("GET", prefix+"/responses/"+ids[i]+"/input_items", nil, auth...); r.Status != http.StatusOK {
			t.Errorf("GET %s/responses/{id}/input_items = %d %s", prefix, r.Status, r.Body)
		}
	}
	// Reading is not creating: the tier is spent on creations only.
	wantError(t, g.do("POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "Hi"}, auth...), http.StatusTooManyRequests, "")
	// The alias is Jan's responses path only, not a second root.
	if r := g.do("GET", "/responses/v1/models", nil, auth...); r.Status != http.StatusNotFound {
		t.Errorf("GET /responses/v1/models = %d, want 404", r.Status)
	}
}
