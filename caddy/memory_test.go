package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/caddy-llm/gateway/handlers/memory"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store/storetest"
)

// POST /v1/embeddings through Caddy with the OpenAI Go SDK: the mock embeds
// deterministically offline (unit vectors, dimensions honoured), an
// OpenAI-compatible upstream gets the upstream model name and its vectors
// come back unchanged, a model whose provider cannot embed (Anthropic) is a
// clear 400, and hostile inputs are 4xx in the spec's shape.
func TestEmbeddingsThroughCaddy(t *testing.T) {
	vllm := providertest.NewUpstream(t, &providertest.EmbeddingsServer{Dimensions: 8, Next: &providertest.OpenAIServer{}})
	claude := providertest.NewUpstream(t, &providertest.AnthropicServer{Reply: "hi"})
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`provider vllm openai {
			base_url %s/v1
		}
		provider claude anthropic {
			base_url %s
			api_key test-anthropic-key
		}
		provider mock mock {
			models jan-v1-4b
		}
		model embed-up {
			deployment vllm upstream-embedder
		}
		model claude-x {
			deployment claude claude-sonnet-4-5
		}`, vllm.URL, claude.URL),
		Routes: "llm_auth",
	}))
	token := guestToken(t, g)
	client := sdkClient(g, token)
	ctx := context.Background()

	// The mock: two inputs, 64 dimensions, unit length, deterministic.
	res, err := client.Embeddings.New(ctx, oa.EmbeddingNewParams{
		Model:      "jan-v1-4b",
		Input:      oa.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"I live in Paris", "Where do I live?"}},
		Dimensions: oa.Int(64),
	})
	if err != nil {
		t.Fatalf("embeddings from the mock: %v", err)
	}
	if len(res.Data) != 2 || res.Model != "jan-v1-4b" || res.Object != "list" || res.Usage.PromptTokens == 0 {
		t.Fatalf("answer = %s", res.RawJSON())
	}
	want, _ := mock.HashEmbedding("I live in Paris", 64)
	for i, d := range res.Data {
		if int(d.Index) != i || len(d.Embedding) != 64 {
			t.Fatalf("data[%d]: index %d, %d dimensions; want %d, 64", i, d.Index, len(d.Embedding), i)
		}
		if n := norm(d.Embedding); math.Abs(n-1) > 1e-4 {
			t.Errorf("data[%d] has length %v, want 1", i, n)
		}
	}
	for j, x := range res.Data[0].Embedding {
		if float32(x) != want[j] {
			t.Fatalf("mock vector differs from mock.HashEmbedding at %d: %v != %v", j, x, want[j])
		}
	}
	if c := dot(res.Data[0].Embedding, res.Data[1].Embedding); c <= 0.3 {
		t.Errorf("cosine of two texts sharing 'live' = %v, want clearly positive", c)
	}

	// A single string, base64: the little-endian float32s of the same vector.
	r := g.do("POST", "/v1/embeddings", map[string]any{"model": "jan-v1-4b", "input": "I live in Paris", "encoding_format": "base64", "dimensions": 64},
		"Authorization", "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("base64 embeddings = %d %s", r.Status, r.Body)
	}
	data := r.JSON(t)["data"].([]any)
	raw, err := base64.StdEncoding.DecodeString(data[0].(map[string]any)["embedding"].(string))
	if err != nil || len(raw) != 4*64 {
		t.Fatalf("base64 embedding: %v, %d bytes", err, len(raw))
	}
	for j := range 64 {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); got != want[j] {
			t.Fatalf("base64 vector differs at %d: %v != %v", j, got, want[j])
		}
	}

	// The OpenAI-compatible upstream: upstream model name, vectors as sent.
	res, err = client.Embeddings.New(ctx, oa.EmbeddingNewParams{
		Model: "embed-up",
		Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("hello upstream")},
	})
	if err != nil {
		t.Fatalf("embeddings from the upstream: %v", err)
	}
	up := vllm.Last(t).JSON(t)
	if up["model"] != "upstream-embedder" || !strings.HasSuffix(vllm.Last(t).Path, "/v1/embeddings") {
		t.Fatalf("upstream got %s %s", vllm.Last(t).Path, vllm.Last(t).Body)
	}
	wantUp := providertest.HashVector("hello upstream", 8)
	if len(res.Data) != 1 || len(res.Data[0].Embedding) != 8 || res.Model != "embed-up" {
		t.Fatalf("upstream answer = %s", res.RawJSON())
	}
	for j, x := range res.Data[0].Embedding {
		if float32(x) != wantUp[j] {
			t.Fatalf("upstream vector changed at %d: %v != %v", j, x, wantUp[j])
		}
	}

	// A model whose provider cannot embed, and an unknown model.
	_, err = client.Embeddings.New(ctx, oa.EmbeddingNewParams{Model: "claude-x", Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("x")}})
	var apiErr *oa.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "model_not_embedding" || apiErr.Param != "model" {
		t.Fatalf("embedding with claude-x: %v", err)
	}
	if len(claude.Requests()) != 0 {
		t.Fatalf("the Anthropic upstream was called for embeddings")
	}
	_, err = client.Embeddings.New(ctx, oa.EmbeddingNewParams{Model: "nope", Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("x")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "model" {
		t.Fatalf("embedding with an unknown model: %v", err)
	}

	// Hostile and malformed input.
	auth := []string{"Authorization", "Bearer " + token}
	many := make([]string, 257)
	for i := range many {
		many[i] = "x"
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no auth", nil, 401, ""},
		{"token array", `{"model":"jan-v1-4b","input":[1,2,3]}`, 400, "unsupported_input"},
		{"token arrays", `{"model":"jan-v1-4b","input":[[1,2],[3]]}`, 400, "unsupported_input"},
		{"empty string", `{"model":"jan-v1-4b","input":""}`, 400, "invalid_value"},
		{"empty array", `{"model":"jan-v1-4b","input":[]}`, 400, "invalid_value"},
		{"too many inputs", map[string]any{"model": "jan-v1-4b", "input": many}, 400, "invalid_value"},
		{"too long input", map[string]any{"model": "jan-v1-4b", "input": strings.Repeat("word ", 7000)}, 400, "invalid_value"},
		{"no input", `{"model":"jan-v1-4b"}`, 400, "missing_required_parameter"},
		{"no model", `{"input":"x"}`, 400, "missing_required_parameter"},
		{"input object", `{"model":"jan-v1-4b","input":{"a":1}}`, 400, "invalid_type"},
		{"bad format", `{"model":"jan-v1-4b","input":"x","encoding_format":"hex"}`, 400, "invalid_value"},
		{"zero dimensions", `{"model":"jan-v1-4b","input":"x","dimensions":0}`, 400, "invalid_value"},
		{"huge dimensions", `{"model":"jan-v1-4b","input":"x","dimensions":100000000}`, 400, "invalid_value"},
		{"deep nesting", `{"model":"jan-v1-4b","input":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, 400, "invalid_json"},
		{"not json", `{"model":`, 400, "invalid_json"},
		{"too large", `{"model":"jan-v1-4b","input":"` + strings.Repeat("a", 3<<20) + `"}`, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := auth
			if tc.name == "no auth" {
				headers = nil
				tc.body = `{"model":"jan-v1-4b","input":"x"}`
			}
			wantError(t, g.do("POST", "/v1/embeddings", tc.body, headers...), tc.status, tc.code)
		})
	}
}

func norm(v []float64) float64 { return math.Sqrt(dot(v, v)) }

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// memoryChat is a user of the gateway under test chatting in conversations.
type memoryChat struct {
	t        *testing.T
	g        *gateway
	token    string
	upstream *providertest.Upstream
}

func (m *memoryChat) auth() []string { return []string{"Authorization", "Bearer " + m.token} }

// conversation creates a conversation (in the project, when given).
func (m *memoryChat) conversation(project string) string {
	m.t.Helper()
	body := map[string]any{}
	if project != "" {
		body["project_id"] = project
	}
	r := m.g.do("POST", "/v1/conversations", body, m.auth()...)
	if r.Status != http.StatusOK {
		m.t.Fatalf("creating a conversation = %d %s", r.Status, r.Body)
	}
	return r.JSON(m.t)["id"].(string)
}

// say sends a chat turn in the conversation and returns the system
// messages the upstream received, in order.
func (m *memoryChat) say(conv, text string) []string {
	m.t.Helper()
	r := m.g.do("POST", "/v1/chat/completions", map[string]any{
		"model": "chat-model", "conversation": conv,
		"messages": []map[string]any{{"role": "user", "content": text}},
	}, m.auth()...)
	if r.Status != http.StatusOK {
		m.t.Fatalf("chat = %d %s", r.Status, r.Body)
	}
	return upstreamSystem(m.t, m.upstream)
}

// upstreamSystem returns the system messages the upstream got last, in
// order.
func upstreamSystem(t testing.TB, up *providertest.Upstream) []string {
	t.Helper()
	var body struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(up.Last(t).Body, &body); err != nil {
		t.Fatal(err)
	}
	var system []string
	for _, msg := range body.Messages {
		if msg.Role == "system" {
			system = append(system, msg.Content)
		}
	}
	return system
}

// recalled returns the memory message among system messages, "" if none.
func recalled(system []string) string {
	for _, s := range system {
		if strings.HasPrefix(s, memory.MemoryIntro) {
			return s
		}
	}
	return ""
}

func (m *memoryChat) settings(memoryConfig map[string]any) {
	m.t.Helper()
	r := m.g.do("PATCH", "/v1/users/me/settings", map[string]any{"memory_config": memoryConfig}, m.auth()...)
	if r.Status != http.StatusOK {
		m.t.Fatalf("PATCH settings = %d %s", r.Status, r.Body)
	}
}

// memories lists the user's items as "kind: text".
func (m *memoryChat) memories() []string {
	m.t.Helper()
	r := m.g.do("GET", "/v1/memories?limit=100&order=asc", nil, m.auth()...)
	if r.Status != http.StatusOK {
		m.t.Fatalf("GET /v1/memories = %d %s", r.Status, r.Body)
	}
	var l struct{ Data []struct{ Kind, Text string } }
	if err := json.Unmarshal(r.Body, &l); err != nil {
		m.t.Fatal(err)
	}
	var out []string
	for _, it := range l.Data {
		out = append(out, it.Kind+": "+it.Text)
	}
	return out
}

// waitMemory waits until the memory holds the item (observation runs in
// the background) and returns the items.
func (m *memoryChat) waitMemory(item string) []string {
	m.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		items := m.memories()
		if slices.Contains(items, item) {
			return items
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("memory never held %q: %v", item, items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startMemoryGateway starts a gateway on a fresh PostgreSQL database with
// memory on (the mock embeds and extracts) and chat-model answered "Noted."
// by an upstream that records what it gets.
func startMemoryGateway(t *testing.T) (*gateway, *providertest.Upstream) {
	t.Helper()
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "Noted."})
	dsn := storetest.NewPostgresDatabase(t)
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`database_url %s
		provider up openai {
			base_url %s/v1
		}
		provider mock mock {
			models jan-v1-4b
		}
		model chat-model {
			deployment up
		}
		memory {
			embed_model jan-v1-4b
			extract_model jan-v1-4b
		}`, dsn, up.URL),
		Routes: "llm_auth",
	}))
	return g, up
}

// Memory through Caddy on PostgreSQL, the upstream recording what it gets:
// facts stated in one conversation are observed (the mock extracts them)
// and recalled in a new conversation's upstream request, as one system
// message after the profile; each setting does what it says; another user
// never sees them; DELETE /v1/memories forgets them.
func TestMemoryThroughCaddyOnPostgres(t *testing.T) {
	g, up := startMemoryGateway(t)
	alice := &memoryChat{t: t, g: g, token: guestToken(t, g), upstream: up}
	bob := &memoryChat{t: t, g: g, token: guestToken(t, g), upstream: up}

	// Memory is on by default (the spec's defaults): a first turn recalls
	// nothing and is observed.
	first := alice.conversation("")
	if got := recalled(alice.say(first, "Hello! I live in Paris. My favourite colour is blue. How are you?")); got != "" {
		t.Fatalf("a first turn recalled %q", got)
	}
	items := alice.waitMemory("episodic: The user said: Hello!")
	for _, want := range []string{"user: I live in Paris.", "user: My favourite colour is blue."} {
		if !slices.Contains(items, want) {
			t.Fatalf("memories = %v, want %q", items, want)
		}
	}

	// A new conversation: with the defaults (min_similarity 0.75, episodic
	// off) only the fact close to the question is recalled, in one system
	// message after the profile's.
	alice.g.do("PATCH", "/v1/users/me/settings", map[string]any{"profile_settings": map[string]any{"nick_name": "Ali"}}, alice.auth()...)
	second := alice.conversation("")
	system := alice.say(second, "Where do I live? Paris?")
	mem := recalled(system)
	if len(system) != 2 || !strings.Contains(system[0], "Ali") || system[1] != mem {
		t.Fatalf("system messages = %q, want the profile, then memory", system)
	}
	if !strings.Contains(mem, "- I live in Paris.") || strings.Contains(mem, "blue") || strings.Contains(mem, "The user said") {
		t.Fatalf("memory message with the defaults:\n%s", mem)
	}

	// Everything on, no similarity floor: both facts and the episode.
	alice.settings(map[string]any{"min_similarity": 0, "inject_episodic": true, "max_user_items": 20, "max_episodic_items": 20})
	full := recalled(alice.say(second, "Where do I live? Paris?"))
	for _, want := range []string{"About the user:", "- I live in Paris.", "- My favourite colour is blue.", "From earlier conversations:", "- The user said: Hello!"} {
		if !strings.Contains(full, want) {
			t.Fatalf("full memory message lacks %q:\n%s", want, full)
		}
	}

	// Each toggle removes exactly its part.
	for _, tc := range []struct {
		setting map[string]any
		gone    []string
	}{
		{map[string]any{"inject_user_core": false}, []string{"About the user:", "- I live in Paris.", "- My favourite colour is blue."}},
		{map[string]any{"inject_episodic": false}, []string{"From earlier conversations:", "- The user said: Hello!"}},
		{map[string]any{"max_user_items": 1}, []string{"- My favourite colour is blue."}},
		{map[string]any{"max_episodic_items": 0}, []string{"From earlier conversations:", "- The user said: Hello!"}},
		{map[string]any{"min_similarity": 0.75}, []string{"- My favourite colour is blue.", "From earlier conversations:", "- The user said: Hello!"}},
		{map[string]any{"enabled": false}, strings.Split(full, "\n")},
	} {
		alice.settings(tc.setting)
		got := recalled(alice.say(second, "Where do I live? Paris?"))
		for _, line := range strings.Split(full, "\n") {
			if slices.Contains(tc.gone, line) == strings.Contains(got, line) {
				t.Errorf("with %v: line %q present = %v:\n%s", tc.setting, line, strings.Contains(got, line), got)
			}
		}
		alice.settings(map[string]any{"enabled": true, "inject_user_core": true, "inject_episodic": true, "max_user_items": 20, "max_episodic_items": 20, "min_similarity": 0})
	}

	// Project facts: learnt in a project's conversation, recalled in the
	// project's other conversations only, and only with inject_semantic.
	r := g.do("POST", "/v1/projects", map[string]any{"name": "Atlas"}, alice.auth()...)
	if r.Status != http.StatusCreated {
		t.Fatalf("creating a project = %d %s", r.Status, r.Body)
	}
	project := r.JSON(t)["id"].(string)
	alice.say(alice.conversation(project), "The project uses PostgreSQL and Go.")
	alice.waitMemory("project: The project uses PostgreSQL and Go.")
	inProject := alice.conversation(project)
	if got := recalled(alice.say(inProject, "Which database does the project use?")); !strings.Contains(got, "About this project:\n- The project uses PostgreSQL and Go.") {
		t.Fatalf("memory in the project:\n%s", got)
	}
	// (Episodes of the project's turns are conversation history, recalled
	// anywhere; its facts are not.)
	if got := recalled(alice.say(second, "Which database does the project use?")); strings.Contains(got, "About this project:") {
		t.Fatalf("a project fact recalled outside its project:\n%s", got)
	}
	alice.settings(map[string]any{"inject_semantic": false})
	if got := recalled(alice.say(inProject, "Which database does the project use?")); strings.Contains(got, "About this project:") || !strings.Contains(got, "I live in Paris.") {
		t.Fatalf("memory with inject_semantic off:\n%s", got)
	}

	// observe_enabled off: nothing is learnt. The worker takes turns in
	// order, so once a later turn's fact is in, the earlier one would be.
	alice.settings(map[string]any{"observe_enabled": false})
	alice.say(second, "I like jazz.")
	alice.settings(map[string]any{"observe_enabled": true})
	// A streamed turn is recalled for and observed as a plain one.
	events := turnEvents(t, g, alice.token, fmt.Sprintf(`{"model":"chat-model","conversation":%q,"stream":true,"messages":[{"role":"user","content":"I like cheese. Where do I live? Paris?"}]}`, second))
	if turnStreamedText(events) != "Noted." || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream = %v", events)
	}
	var streamed struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(up.Last(t).Body, &streamed); err != nil || !strings.HasPrefix(streamed.Messages[1].Content, memory.MemoryIntro) {
		t.Fatalf("streamed turn's upstream messages: %s", up.Last(t).Body)
	}
	items = alice.waitMemory("user: I like cheese.")
	if slices.Contains(items, "user: I like jazz.") {
		t.Fatalf("a turn was observed with observe_enabled off: %v", items)
	}

	// Another user never sees them.
	if got := bob.memories(); len(got) != 0 {
		t.Fatalf("Bob's memories = %v", got)
	}
	if got := recalled(bob.say(bob.conversation(""), "Where do I live? Paris?")); got != "" {
		t.Fatalf("Bob's turn recalled Alice's memory:\n%s", got)
	}
	r = g.do("DELETE", "/v1/memories", nil, bob.auth()...)
	if r.Status != http.StatusOK || len(alice.memories()) == 0 {
		t.Fatalf("Bob's DELETE /v1/memories = %d %s; Alice's memories %v", r.Status, r.Body, alice.memories())
	}

	// Forgetting everything: gone from the list and from the next turns.
	r = g.do("DELETE", "/v1/memories", nil, alice.auth()...)
	if r.Status != http.StatusOK || r.JSON(t)["deleted"] != true {
		t.Fatalf("DELETE /v1/memories = %d %s", r.Status, r.Body)
	}
	if got := alice.memories(); len(got) != 0 {
		t.Fatalf("memories after DELETE = %v", got)
	}
	if got := recalled(alice.say(second, "Where do I live? Paris?")); got != "" {
		t.Fatalf("recalled after forgetting everything:\n%s", got)
	}
}

// An extraction model that is down: chat answers as usual, and the
// observation is given up after its attempts, with a warning in the log.
func TestMemoryExtractionOutageThroughCaddy(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "Noted."})
	down := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.WriteJSON(w, http.StatusBadGateway, providertest.ErrorBody("down", "server_error", "down"))
	}))
	port := freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port: port,
		LLM: fmt.Sprintf(`provider up openai {
			base_url %s/v1
		}
		provider down openai {
			base_url %s/v1
		}
		provider mock mock {
			models jan-v1-4b
		}
		model chat-model {
			deployment up
		}
		model extractor {
			deployment down
		}
		memory {
			embed_model jan-v1-4b
			extract_model extractor
			attempts 3
			retry_backoff 10ms
		}`, up.URL, down.URL),
		Routes: "llm_auth",
	}))
	alice := &memoryChat{t: t, g: g, token: guestToken(t, g), upstream: up}
	conv := alice.conversation("")
	alice.say(conv, "I live in Oslo.")
	deadline := time.Now().Add(15 * time.Second)
	for len(down.Requests()) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(down.Requests()); n != 3 {
		t.Fatalf("the extraction upstream got %d requests, want 3 attempts", n)
	}
	// Chat goes on meanwhile and after.
	alice.say(conv, "Still there?")
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(logFile); strings.Contains(string(data), "memory observation gave up on a turn") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	data, _ := os.ReadFile(logFile)
	if !strings.Contains(string(data), "memory observation gave up on a turn") {
		t.Fatalf("no warning that the observation was given up in %s", logFile)
	}
	if strings.Contains(string(data), "I live in Oslo") {
		t.Fatalf("the log holds a message's content")
	}
	if got := alice.memories(); len(got) != 0 {
		t.Fatalf("memories despite the outage: %v", got)
	}
}

// The default Caddyfile as shipped: memory works out of the box with the
// mock (observed facts are listed, and recalled: the mock counts the
// recalled message in its prompt tokens), and /v1/embeddings answers.
func TestDefaultCaddyfileMemoryOutOfTheBox(t *testing.T) {
	gw, svc := freePort(t), freePort(t)
	g := startGateway(t, gw, withPorts(defaultCaddyfile(t), gw, svc))
	g.base = fmt.Sprintf("http://127.0.0.1:%d", svc) // the direct listener: no rate limits to share with other tests
	alice := &memoryChat{t: t, g: g, token: guestToken(t, g)}
	promptTokens := func(conv, text string) float64 {
		t.Helper()
		r := g.do("POST", "/v1/chat/completions", map[string]any{
			"model": "jan-v1-4b", "conversation": conv,
			"messages": []map[string]any{{"role": "user", "content": text}},
		}, alice.auth()...)
		if r.Status != http.StatusOK {
			t.Fatalf("chat = %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["usage"].(map[string]any)["prompt_tokens"].(float64)
	}
	promptTokens(alice.conversation(""), "I live in Paris.")
	alice.waitMemory("user: I live in Paris.")

	withMemory := promptTokens(alice.conversation(""), "Where do I live? Paris?")
	alice.settings(map[string]any{"enabled": false})
	without := promptTokens(alice.conversation(""), "Where do I live? Paris?")
	// The mock counts one token per word: the memory message has the
	// intro, a heading and the fact.
	if minimum := float64(len(strings.Fields(memory.MemoryIntro + " About the user: - I live in Paris."))); withMemory-without != minimum {
		t.Fatalf("prompt tokens with memory %v, without %v: want the memory message's %v more", withMemory, without, minimum)
	}

	client := sdkClient(g, alice.token)
	res, err := client.Embeddings.New(context.Background(), oa.EmbeddingNewParams{
		Model: "jan-v1-4b", Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("hello")},
	})
	if err != nil || len(res.Data) != 1 || len(res.Data[0].Embedding) != mock.DefaultEmbeddingDimensions {
		t.Fatalf("embeddings with the default Caddyfile: %v", err)
	}
}

// Memory in the Responses API, through Caddy on PostgreSQL with the SDK:
// facts observed from a chat conversation are recalled in a response's
// upstream request (one system message, as for chat), and responses stored
// in a conversation, plain and streamed, are observed; one not stored is
// not.
func TestResponsesMemoryThroughCaddyOnPostgres(t *testing.T) {
	g, up := startMemoryGateway(t)
	alice := &memoryChat{t: t, g: g, token: guestToken(t, g), upstream: up}
	client := sdkClient(g, alice.token)
	ctx := context.Background()
	respond := func(conv, text string, store bool) {
		t.Helper()
		resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
			Model: "chat-model", Store: oa.Bool(store),
			Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String(text)},
			Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(conv)},
		})
		if err != nil || resp.OutputText() != "Noted." {
			t.Fatalf("response in a conversation: %v %v", resp, err)
		}
	}

	alice.say(alice.conversation(""), "Hello! I live in Paris. My favourite colour is blue. How are you?")
	alice.waitMemory("user: I live in Paris.")

	// Recalled in a response in another conversation: one memory message
	// beside the instructions, with the defaults' fact only.
	conv := alice.conversation("")
	resp, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "chat-model", Instructions: oa.String("Be brief."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("Where do I live? Paris?")},
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(conv)},
	})
	if err != nil {
		t.Fatal(err)
	}
	system := upstreamSystem(t, up)
	mem := recalled(system)
	if len(system) != 2 || !slices.Contains(system, "Be brief.") || !strings.Contains(mem, "- I live in Paris.") || strings.Contains(mem, "blue") {
		t.Fatalf("upstream system messages of a response %s: %q", resp.ID, system)
	}
	// Without a conversation a response recalls nothing, as a chat
	// request without one.
	if _, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model: "chat-model", Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Where do I live? Paris?")},
	}); err != nil || len(upstreamSystem(t, up)) != 0 {
		t.Fatalf("a response outside conversations: %v, system %q", err, upstreamSystem(t, up))
	}

	// Observed: a stored response, then one not stored (never learnt
	// from), then a streamed one (the worker takes turns in order).
	respond(conv, "I like cheese.", true)
	alice.waitMemory("user: I like cheese.")
	respond(conv, "I like tea.", false)
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model:        "chat-model",
		Input:        responses.ResponseNewParamsInputUnion{OfString: oa.String("I like jazz.")},
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: oa.String(conv)},
	})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if items := alice.waitMemory("user: I like jazz."); slices.Contains(items, "user: I like tea.") {
		t.Fatalf("a response not stored was observed: %v", items)
	}
	// What responses taught is recalled in chat.
	alice.settings(map[string]any{"min_similarity": 0, "max_user_items": 20})
	if got := recalled(alice.say(alice.conversation(""), "What do I like?")); !strings.Contains(got, "- I like cheese.") || !strings.Contains(got, "- I like jazz.") {
		t.Fatalf("chat recalls after responses:\n%s", got)
	}
}
