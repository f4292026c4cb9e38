package chat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"

	"github.com/caddy-llm/gateway/handlers/chat"
	convhandler "github.com/caddy-llm/gateway/handlers/conversations"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/handlers/projects"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/handlers/settings"
	"github.com/caddy-llm/gateway/store"
)

// turnGateway is the chat handler recording turns with chat.Recorder, and
// the conversations, projects and settings routes, on one store, for the
// users alice and bob of httpxtest.
type turnGateway struct {
	*httpxtest.Server
	up       *providertest.Upstream
	observed *observer
}

// newTurnGateway serves upstream as the jan-v1-4b model. recorderStore, when
// given, is the store the recorder uses instead of st (to break it).
func newTurnGateway(t *testing.T, st store.Store, upstream http.Handler, recorderStore ...store.Store) *turnGateway {
	t.Helper()
	up := providertest.NewUpstream(t, upstream)
	router, err := provider.NewRouter([]provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rs := st
	if len(recorderStore) > 0 {
		rs = recorderStore[0]
	}
	obs := &observer{}
	h := &chat.Handler{Router: router, Observer: obs, Conversations: &chat.Recorder{Store: rs}}
	s := httpxtest.NewServer(t, st, h,
		&convhandler.Handler{Store: st}, &projects.Handler{Store: st}, &settings.Handler{Store: st})
	return &turnGateway{Server: s, up: up, observed: obs}
}

// newConversation creates a conversation for user and returns its id.
func (g *turnGateway) newConversation(t *testing.T, user string, body map[string]any) string {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	var c struct{ ID string }
	g.Do(t, user, "POST", "/v1/conversations", body).Want(t, http.StatusOK).Decode(t, &c)
	if !strings.HasPrefix(c.ID, "conv_") {
		t.Fatalf("conversation id %q", c.ID)
	}
	return c.ID
}

// storedItem is an item as the items list shows it.
type storedItem struct {
	Role    string `json:"role"`
	Status  string `json:"status"`
	Content []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL string `json:"image_url"`
	} `json:"content"`
}

func (it storedItem) text() string {
	var parts []string
	for _, c := range it.Content {
		parts = append(parts, c.Text)
	}
	return strings.Join(parts, "|")
}

// items lists the conversation's items, oldest first.
func (g *turnGateway) items(t *testing.T, user, conv string) []storedItem {
	t.Helper()
	var list struct{ Data []storedItem }
	g.Do(t, user, "GET", "/v1/conversations/"+conv+"/items?order=asc&limit=100", nil).Want(t, http.StatusOK).Decode(t, &list)
	return list.Data
}

// title returns the conversation's title ("" while untitled).
func (g *turnGateway) title(t *testing.T, user, conv string) string {
	t.Helper()
	var c struct{ Title *string }
	g.Do(t, user, "GET", "/v1/conversations/"+conv, nil).Want(t, http.StatusOK).Decode(t, &c)
	if c.Title == nil {
		return ""
	}
	return *c.Title
}

// wantItems fails unless the items are exactly want: role, status and text
// ("|" between parts).
func wantItems(t *testing.T, got []storedItem, want ...string) {
	t.Helper()
	var lines []string
	for _, it := range got {
		lines = append(lines, it.Role+" "+it.Status+" "+it.text())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("items:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// streamedText is the content the client received in a stream's chunks.
func streamedText(t *testing.T, events []string) string {
	t.Helper()
	var b strings.Builder
	for _, e := range events {
		var c struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if e == "[DONE]" || json.Unmarshal([]byte(e), &c) != nil {
			continue
		}
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String()
}

// conversationEvent decodes the conversation chunk of a stream.
type conversationChunk struct {
	ID           string            `json:"id"`
	Object       string            `json:"object"`
	Created      int64             `json:"created"`
	Model        string            `json:"model"`
	Choices      []json.RawMessage `json:"choices"`
	Conversation *struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"conversation"`
}

func chatBody(content string, extra string) string {
	return `{"model":"jan-v1-4b","messages":[{"role":"user","content":` + quote(content) + `}]` + extra + `}`
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// forEachStore runs test on every store, in parallel with the other tests
// that use it: each gets a database of its own.
func forEachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Parallel()
	for _, s := range httpxtest.Stores {
		t.Run(s.Name, func(t *testing.T) { test(t, s.New(t)) })
	}
}

func TestTurnStreamedThenPlain(t *testing.T) {
	const reply = "Once upon a time, a fox \"jumped\" over — the moon."
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, &providertest.OpenAIServer{Reply: reply})
		conv := g.newConversation(t, httpxtest.Alice, nil)

		r := g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions",
			chatBody("  Tell me\n a   story ", `,"stream":true,"conversation":`+quote(conv))).Want(t, http.StatusOK)
		events := readEvents(t, strings.NewReader(string(r.Body)))
		n := len(events)
		if n < 3 || events[n-1] != "[DONE]" {
			t.Fatalf("events %q", events)
		}
		streamed := streamedText(t, events)
		if streamed != reply {
			t.Fatalf("streamed %q", streamed)
		}
		var first, last conversationChunk
		_ = json.Unmarshal([]byte(events[0]), &first)
		if err := json.Unmarshal([]byte(events[n-2]), &last); err != nil || last.Conversation == nil {
			t.Fatalf("the event before [DONE] is not the conversation chunk: %s", events[n-2])
		}
		if last.Conversation.ID != conv || last.Conversation.Title != "Tell me a story" || last.Object != "chat.completion.chunk" ||
			last.ID != first.ID || last.Created != first.Created || last.Model != "jan-v1-4b" || last.Choices == nil || len(last.Choices) != 0 {
			t.Errorf("conversation chunk %s (first chunk %s)", events[n-2], events[0])
		}
		for _, e := range events[:n-2] {
			if strings.Contains(e, `"conversation"`) {
				t.Errorf("conversation in another chunk: %s", e)
			}
		}

		// The {"id": …} form, plain.
		r = g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions",
			chatBody("And another one", `,"conversation":{"id":`+quote(conv)+`}`)).Want(t, http.StatusOK)
		var answer struct {
			Object  string
			Choices []struct{ Message struct{ Content string } }
			Usage   struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
			Conv struct{ ID, Title string } `json:"conversation"`
		}
		r.Decode(t, &answer)
		if answer.Object != "chat.completion" || answer.Choices[0].Message.Content != reply || answer.Usage.TotalTokens == 0 ||
			answer.Conv.ID != conv || answer.Conv.Title != "Tell me a story" {
			t.Errorf("answer %s", r.Body)
		}

		wantItems(t, g.items(t, httpxtest.Alice, conv),
			"user completed   Tell me\n a   story ",
			"assistant completed "+reply,
			"user completed And another one",
			"assistant completed "+reply)
		if got := g.title(t, httpxtest.Alice, conv); got != "Tell me a story" {
			t.Errorf("title %q, want the first message's", got)
		}
		for _, rec := range g.up.Requests() {
			body := rec.JSON(t)
			if _, ok := body["conversation"]; ok {
				t.Errorf("conversation sent upstream: %s", rec.Body)
			}
			if _, ok := body["store"]; ok {
				t.Errorf("store sent upstream: %s", rec.Body)
			}
			if msgs := body["messages"].([]any); len(msgs) != 1 {
				t.Errorf("upstream messages %v: no system message is due without project or profile", msgs)
			}
		}
	})
}

// The OpenAI SDK, unchanged but for the extra member, streams into a
// conversation and lists both messages with its conversations client.
func TestTurnWithSDK(t *testing.T) {
	const reply = "Hello! I'm doing well, thank you."
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, &providertest.OpenAIServer{Reply: reply})
		conv := g.newConversation(t, httpxtest.Alice, nil)
		client := oa.NewClient(option.WithBaseURL(g.URL+"/v1/"), option.WithAPIKey(httpxtest.Alice), option.WithMaxRetries(0))
		ctx := context.Background()
		stream := client.Chat.Completions.NewStreaming(ctx, oa.ChatCompletionNewParams{
			Model:    "jan-v1-4b",
			Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hello, how are you?")},
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
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != reply {
			t.Fatalf("streamed %q", acc.Choices[0].Message.Content)
		}
		if convRaw != `{"id":"`+conv+`","title":"Hello, how are you?"}` {
			t.Errorf("conversation member %s", convRaw)
		}
		items, err := client.Conversations.Items.List(ctx, conv, conversations.ItemListParams{Order: conversations.ItemListParamsOrderAsc})
		if err != nil {
			t.Fatal(err)
		}
		if len(items.Data) != 2 {
			t.Fatalf("%d items", len(items.Data))
		}
		user, assistant := items.Data[0].AsMessage(), items.Data[1].AsMessage()
		if user.Role != "user" || user.Content[0].Type != "input_text" || user.Content[0].Text != "Hello, how are you?" {
			t.Errorf("user item %s", items.Data[0].RawJSON())
		}
		if assistant.Role != "assistant" || assistant.Status != "completed" || assistant.Content[0].Type != "output_text" || assistant.Content[0].Text != acc.Choices[0].Message.Content {
			t.Errorf("assistant item %s", items.Data[1].RawJSON())
		}
	})
}

func TestTurnIsolationAndStoreFlag(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, &providertest.OpenAIServer{})
		conv := g.newConversation(t, httpxtest.Alice, nil)

		// Another user's conversation is a 404, stored or not, streamed
		// or not, and nothing reaches the upstream nor the store.
		for _, extra := range []string{"", `,"store":true`, `,"store":false`, `,"stream":true`} {
			g.Do(t, httpxtest.Bob, "POST", "/v1/chat/completions", chatBody("Hi", `,"conversation":`+quote(conv)+extra)).
				WantError(t, http.StatusNotFound, "not_found", "conversation")
		}
		g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", `,"conversation":"conv_doesnotexist"`)).
			WantError(t, http.StatusNotFound, "not_found", "conversation")
		if n := len(g.up.Requests()); n != 0 {
			t.Fatalf("%d requests reached the upstream", n)
		}
		wantItems(t, g.items(t, httpxtest.Alice, conv))
		if got := g.title(t, httpxtest.Alice, conv); got != "" {
			t.Fatalf("title %q set by another user's request", got)
		}

		// store:false writes nothing (no title either) but names the
		// conversation.
		for _, extra := range []string{`,"store":false`, `,"store":false,"stream":true`} {
			r := g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", `,"conversation":`+quote(conv)+extra)).Want(t, http.StatusOK)
			if !strings.Contains(string(r.Body), `"conversation":{"id":"`+conv+`","title":""}`) {
				t.Errorf("answer %s", r.Body)
			}
		}
		wantItems(t, g.items(t, httpxtest.Alice, conv))
		if got := g.title(t, httpxtest.Alice, conv); got != "" {
			t.Errorf("title %q set by store:false", got)
		}

		// store:true without a conversation creates one, titled.
		r := g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Plan a trip to Hue", `,"store":true`)).Want(t, http.StatusOK)
		var answer struct {
			Conv struct{ ID, Title string } `json:"conversation"`
		}
		r.Decode(t, &answer)
		if !strings.HasPrefix(answer.Conv.ID, "conv_") || answer.Conv.Title != "Plan a trip to Hue" {
			t.Fatalf("answer %s", r.Body)
		}
		wantItems(t, g.items(t, httpxtest.Alice, answer.Conv.ID),
			"user completed Plan a trip to Hue",
			"assistant completed Hello from upstream")
		g.Do(t, httpxtest.Bob, "GET", "/v1/conversations/"+answer.Conv.ID, nil).WantError(t, http.StatusNotFound, "not_found", "")

		// Without conversation nor store, nothing is created.
		var before, after struct{ Total int }
		g.Do(t, httpxtest.Alice, "GET", "/v1/conversations", nil).Decode(t, &before)
		r = g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", `,"store":null,"conversation":null`)).Want(t, http.StatusOK)
		if strings.Contains(string(r.Body), "conversation") {
			t.Errorf("answer %s", r.Body)
		}
		g.Do(t, httpxtest.Alice, "GET", "/v1/conversations", nil).Decode(t, &after)
		if after.Total != before.Total {
			t.Errorf("conversations %d → %d", before.Total, after.Total)
		}
	})
}

func TestTurnValidation(t *testing.T) {
	g := newTurnGateway(t, httpxtest.Stores[0].New(t), &providertest.OpenAIServer{})
	for _, tt := range []struct{ extra, param string }{
		{`,"conversation":42`, "conversation"},
		{`,"conversation":["conv_1"]`, "conversation"},
		{`,"conversation":{"id":7}`, "conversation.id"},
		{`,"conversation":{}`, "conversation.id"},
		{`,"store":"yes"`, "store"},
	} {
		g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", tt.extra)).
			WantError(t, http.StatusBadRequest, "invalid_type", tt.param)
	}
	if n := len(g.up.Requests()); n != 0 {
		t.Fatalf("%d requests reached the upstream", n)
	}
}

// The project's instruction and the user's profile go upstream as system
// messages before the client's, which arrive as sent; other members of the
// body are kept as they are.
func TestTurnSystemMessages(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, &providertest.OpenAIServer{})
		var proj struct{ ID string }
		g.Do(t, httpxtest.Alice, "POST", "/v1/projects", map[string]any{"name": "Marketing", "instruction": "You are a marketing expert."}).
			Want(t, http.StatusCreated).Decode(t, &proj)
		inProject := g.newConversation(t, httpxtest.Alice, map[string]any{"project_id": proj.ID})
		plain := g.newConversation(t, httpxtest.Alice, nil)
		const client = `[{"role":"system","content":"Be brief."},{"role":"user","content":"Slogan for tea?"}]`
		send := func(conv, extra string) []any {
			t.Helper()
			body := `{"model":"jan-v1-4b","logit_bias":{"50256": -100},"messages":` + client + `,"conversation":` + quote(conv) + extra + `}`
			g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", body).Want(t, http.StatusOK)
			rec := g.up.Last(t)
			if !strings.Contains(string(rec.Body), `"logit_bias":{"50256": -100}`) {
				t.Errorf("other members not kept byte for byte: %s", rec.Body)
			}
			return rec.JSON(t)["messages"].([]any)
		}
		wantMessages := func(got []any, system ...string) {
			t.Helper()
			var want []any
			for _, s := range system {
				want = append(want, map[string]any{"role": "system", "content": s})
			}
			var tail []any
			_ = json.Unmarshal([]byte(client), &tail)
			want = append(want, tail...)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("upstream messages\n%v\nwant\n%v", got, want)
			}
		}

		wantMessages(send(plain, ""))
		wantMessages(send(inProject, ""), "You are a marketing expert.")

		g.Do(t, httpxtest.Alice, "PATCH", "/v1/users/me/settings", map[string]any{"profile_settings": map[string]any{
			"base_style": "Professional", "nick_name": "Dev", "occupation": "Tea merchant",
		}}).Want(t, http.StatusOK)
		profile := "The user has set these preferences in their profile. Take them into account unless the user asks otherwise.\n" +
			"Response style: Professional (clear, precise and formal).\nAddress the user as: Dev\nThe user's occupation: Tea merchant"
		wantMessages(send(inProject, ""), "You are a marketing expert.", profile)
		wantMessages(send(inProject, `,"store":false,"stream":true`), "You are a marketing expert.", profile)
		wantMessages(send(plain, ""), profile)

		// Bob's profile is his own: none.
		bobConv := g.newConversation(t, httpxtest.Bob, nil)
		g.Do(t, httpxtest.Bob, "POST", "/v1/chat/completions", chatBody("Hi", `,"conversation":`+quote(bobConv))).Want(t, http.StatusOK)
		if msgs := g.up.Last(t).JSON(t)["messages"].([]any); len(msgs) != 1 {
			t.Errorf("bob's upstream messages %v", msgs)
		}
	})
}

func TestTurnStreamCutMidway(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, &providertest.OpenAIServer{Reply: "Once upon a time there was", BeforeChunk: func(i int) bool { return i < 4 }})
		conv := g.newConversation(t, httpxtest.Alice, nil)
		r := g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Tell me a story", `,"stream":true,"conversation":`+quote(conv))).Want(t, http.StatusOK)
		events := readEvents(t, strings.NewReader(string(r.Body)))
		n := len(events)
		if n < 2 {
			t.Fatalf("events %q", events)
		}
		for _, e := range events {
			if e == "[DONE]" {
				t.Fatal("a cut stream ended with [DONE]")
			}
		}
		if e := decodeError(t, strings.NewReader(events[n-1])); e.Error.Code != "upstream_error" {
			t.Errorf("last event %s", events[n-1])
		}
		var c conversationChunk
		if json.Unmarshal([]byte(events[n-2]), &c) != nil || c.Conversation == nil || c.Conversation.ID != conv {
			t.Errorf("no conversation chunk before the error: %s", events[n-2])
		}
		streamed := streamedText(t, events)
		if streamed != "Once upon a" {
			t.Fatalf("streamed %q", streamed)
		}
		wantItems(t, g.items(t, httpxtest.Alice, conv),
			"user completed Tell me a story",
			"assistant incomplete "+streamed)
	})
}

func TestTurnClientGoesAway(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			providertest.StartSSE(w)
			providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)
			providertest.SendData(w, `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Once"},"finish_reason":null}]}`)
			<-r.Context().Done()
		}))
		conv := g.newConversation(t, httpxtest.Alice, nil)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+"/v1/chat/completions",
			strings.NewReader(chatBody("Tell me a story", `,"stream":true,"conversation":`+quote(conv))))
		req.Header.Set("Authorization", "Bearer "+httpxtest.Alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for n := 0; n < 2; {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "data: ") {
				n++
			}
		}
		cancel()
		if o := g.observed.last(t); !o.Incomplete || o.ErrorCode != "client_closed_request" {
			t.Fatalf("outcome %+v", o)
		}
		wantItems(t, g.items(t, httpxtest.Alice, conv),
			"user completed Tell me a story",
			"assistant incomplete Once")
	})
}

// An upstream that fails before answering leaves the user message (it was
// written before the call) and no reply.
func TestTurnUpstreamFailsBeforeAnswering(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}))
		conv := g.newConversation(t, httpxtest.Alice, nil)
		for _, extra := range []string{"", `,"stream":true`} {
			g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", extra+`,"conversation":`+quote(conv))).
				WantError(t, http.StatusBadGateway, "upstream_error", "")
		}
		wantItems(t, g.items(t, httpxtest.Alice, conv), "user completed Hi", "user completed Hi")
	})
}

func TestTurnToolCalls(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		g := newTurnGateway(t, st, &providertest.OpenAIServer{ToolArguments: `{"location":"Paris"}`})
		conv := g.newConversation(t, httpxtest.Alice, nil)
		const tools = `,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
		for _, extra := range []string{"", `,"stream":true`} {
			g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Weather?", tools+extra+`,"conversation":`+quote(conv))).Want(t, http.StatusOK)
		}
		wantItems(t, g.items(t, httpxtest.Alice, conv),
			"user completed Weather?", `assistant completed Tool call: get_weather({"location":"Paris"})`,
			"user completed Weather?", `assistant completed Tool call: get_weather({"location":"Paris"})`)
	})
}

// downStore reports the database as unreachable for everything a turn
// reads or writes.
type downStore struct{ store.Store }

var errDown = fmt.Errorf("connecting: %w", store.ErrUnavailable)

func (downStore) GetConversation(context.Context, int64, string) (store.Conversation, error) {
	return store.Conversation{}, errDown
}

func (downStore) CreateConversation(context.Context, store.Conversation, []store.Item) (store.Conversation, []store.Item, error) {
	return store.Conversation{}, nil, errDown
}

func (downStore) AppendItems(context.Context, int64, string, []store.Item) ([]store.Item, error) {
	return nil, errDown
}

func (downStore) GetSettings(context.Context, int64) (store.UserSettings, error) {
	return store.UserSettings{}, errDown
}

// A database outage refuses a turn with 503 before the upstream is called;
// a chat without conversation does not notice it.
func TestTurnDatabaseDown(t *testing.T) {
	t.Parallel()
	for _, s := range httpxtest.Stores {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			var g *turnGateway
			if s.Name == "memory" {
				g = newTurnGateway(t, st, &providertest.OpenAIServer{}, downStore{st})
			} else {
				g = newTurnGateway(t, st, &providertest.OpenAIServer{})
			}
			conv := g.newConversation(t, httpxtest.Alice, nil)
			if s.Name != "memory" {
				_ = st.Close() // the real thing: every query fails
			}
			for _, extra := range []string{`,"conversation":` + quote(conv), `,"conversation":` + quote(conv) + `,"stream":true`, `,"store":true`, `,"conversation":` + quote(conv) + `,"store":false`} {
				g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", extra)).
					WantError(t, http.StatusServiceUnavailable, "database_unavailable", "")
			}
			if n := len(g.up.Requests()); n != 0 {
				t.Fatalf("%d requests reached the upstream", n)
			}
			g.Do(t, httpxtest.Alice, "POST", "/v1/chat/completions", chatBody("Hi", "")).Want(t, http.StatusOK)
		})
	}
}

// noStore panics on any use: a chat without conversation nor store must
// never touch the store.
type noStore struct{ store.Store }

func TestChatWithoutTurnNeverTouchesTheStore(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{}, func(h *chat.Handler) {
		h.Conversations = &chat.Recorder{Store: noStore{}}
	})
	for _, body := range []string{chatBody("Hi", ""), chatBody("Hi", `,"stream":true`), chatBody("Hi", `,"store":false`)} {
		if resp := g.post(t, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}
