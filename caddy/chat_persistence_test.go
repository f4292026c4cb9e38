package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// turnItems lists a conversation's items, oldest first, as "role status
// text" lines.
func turnItems(t testing.TB, g *gateway, token, conv string) []string {
	t.Helper()
	r := g.do("GET", "/v1/conversations/"+conv+"/items?order=asc", nil, "Authorization", "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("listing items = %d %s", r.Status, r.Body)
	}
	var list struct {
		Data []struct {
			Role    string
			Status  string
			Content []struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range list.Data {
		var texts []string
		for _, c := range it.Content {
			texts = append(texts, c.Text)
		}
		out = append(out, it.Role+" "+it.Status+" "+strings.Join(texts, "|"))
	}
	return out
}

// turnEvents posts a streamed chat and returns the data of its events.
func turnEvents(t testing.TB, g *gateway, token, body string) []string {
	t.Helper()
	req, _ := http.NewRequest("POST", g.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var events []string
	for _, line := range strings.Split(string(raw), "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, data)
		}
	}
	return events
}

// turnStreamedText is the content the client received in a stream.
func turnStreamedText(events []string) string {
	var b strings.Builder
	for _, e := range events {
		var c struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(e), &c) == nil {
			for _, ch := range c.Choices {
				b.WriteString(ch.Delta.Content)
			}
		}
	}
	return b.String()
}

// Chat persistence through Caddy on PostgreSQL: the OpenAI SDK streams into a
// conversation and the items list shows both messages with the exact text
// that was streamed; an upstream that dies mid-stream gives an error event,
// no [DONE], and an incomplete reply holding what was streamed.
func TestChatPersistenceOnPostgres(t *testing.T) {
	const reply = "Once upon a time, a \"gateway\" kept every word — even this one."
	healthy := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: reply})
	dying := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.StartSSE(w)
		for _, delta := range []string{`{"role":"assistant","content":""}`, `{"content":"Half"}`, `{"content":" a story"}`} {
			providertest.SendData(w, `{"id":"chatcmpl-d","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":`+delta+`,"finish_reason":null}]}`)
		}
		// Killed: the connection drops in the middle of the event stream.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	dsn := storetest.NewPostgresDatabase(t)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		provider healthy openai {
			base_url %s/v1
		}
		provider dying openai {
			base_url %s/v1
		}
		model story-model {
			deployment healthy
		}
		model dying-model {
			deployment dying
		}`, dsn, healthy.URL, dying.URL),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	auth := []string{"Authorization", "Bearer " + token}
	r := g.do("POST", "/v1/conversations", map[string]any{}, auth...)
	if r.Status != http.StatusOK {
		t.Fatalf("creating a conversation = %d %s", r.Status, r.Body)
	}
	conv, _ := r.JSON(t)["id"].(string)

	// The SDK streams into the conversation ("conversation" is the only
	// member it does not know).
	client := sdkClient(g, token)
	stream := client.Chat.Completions.NewStreaming(context.Background(), oa.ChatCompletionNewParams{
		Model:    "story-model",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Tell me a story about a gateway")},
	}, option.WithJSONSet("conversation", conv))
	var (
		acc     oa.ChatCompletionAccumulator
		convRaw string
	)
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		if f, ok := c.JSON.ExtraFields["conversation"]; ok {
			convRaw = f.Raw()
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	streamed := acc.Choices[0].Message.Content
	if streamed != reply {
		t.Fatalf("streamed %q", streamed)
	}
	if convRaw != `{"id":"`+conv+`","title":"Tell me a story about a gateway"}` {
		t.Errorf("conversation chunk member %s", convRaw)
	}
	items := turnItems(t, g, token, conv)
	if want := []string{"user completed Tell me a story about a gateway", "assistant completed " + streamed}; strings.Join(items, "\n") != strings.Join(want, "\n") {
		t.Fatalf("items:\n%s\nwant:\n%s", strings.Join(items, "\n"), strings.Join(want, "\n"))
	}
	if sent := healthy.Last(t).JSON(t); sent["conversation"] != nil || sent["store"] != nil {
		t.Errorf("the gateway's members went upstream: %s", healthy.Last(t).Body)
	}

	// Another guest cannot chat into it.
	wantError(t, g.do("POST", "/v1/chat/completions", map[string]any{
		"model": "story-model", "conversation": conv, "messages": []map[string]any{{"role": "user", "content": "Hi"}},
	}, "Authorization", "Bearer "+guestToken(t, g)), http.StatusNotFound, "not_found")

	// The upstream dies mid-stream.
	events := turnEvents(t, g, token, `{"model":"dying-model","stream":true,"conversation":{"id":"`+conv+`"},"messages":[{"role":"user","content":"Another one"}]}`)
	if len(events) == 0 {
		t.Fatal("no events")
	}
	for _, e := range events {
		if e == "[DONE]" {
			t.Fatalf("a cut stream ended with [DONE]: %q", events)
		}
	}
	var last struct {
		Error *struct{ Message, Type, Code string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(events[len(events)-1]), &last); err != nil || last.Error == nil || last.Error.Code == "" || last.Error.Message == "" {
		t.Fatalf("the last event is not an error in the spec's shape: %q", events)
	}
	partial := turnStreamedText(events)
	if partial != "Half a story" {
		t.Fatalf("streamed %q before the cut", partial)
	}
	items = turnItems(t, g, token, conv)
	if len(items) != 4 || items[2] != "user completed Another one" || items[3] != "assistant incomplete "+partial {
		t.Fatalf("items after the cut:\n%s", strings.Join(items, "\n"))
	}
}
