package fakeupstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func sdk(s *Server) *oa.Client {
	c := oa.NewClient(option.WithBaseURL("http://"+s.Addr+"/v1/"), option.WithAPIKey("sk-any"), option.WithMaxRetries(0))
	return &c
}

// The official OpenAI SDK reads a plain answer with the configured number
// of words, the finish reason and consistent usage.
func TestPlainWithSDK(t *testing.T) {
	s := start(t, Options{Chunks: 7})
	resp, err := sdk(s).Chat.Completions.New(context.Background(), oa.ChatCompletionNewParams{
		Model:    "whatever",
		Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices
	if resp.Object != "chat.completion" || resp.Model != DefaultModel || len(c) != 1 ||
		c[0].Message.Role != "assistant" || c[0].Message.Content != strings.Repeat(word, 7) || c[0].FinishReason != "stop" ||
		resp.Usage.CompletionTokens != 7 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+7 {
		t.Fatalf("answer: %s", resp.RawJSON())
	}
}

// The SDK reassembles a stream to the plain answer, with usage when asked.
func TestStreamWithSDK(t *testing.T) {
	s := start(t, Options{Chunks: 5, ChunkDelay: time.Millisecond})
	stream := sdk(s).Chat.Completions.NewStreaming(context.Background(), oa.ChatCompletionNewParams{
		Model:         "whatever",
		Messages:      []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Hello")},
		StreamOptions: oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)},
	})
	var acc oa.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if chunks != 5+2 || acc.Choices[0].Message.Content != strings.Repeat(word, 5) ||
		acc.Choices[0].FinishReason != "stop" || acc.Usage.CompletionTokens != 5 {
		t.Fatalf("%d chunks reassembled to %q, finish %q, usage %+v", chunks, acc.Choices[0].Message.Content, acc.Choices[0].FinishReason, acc.Usage)
	}
}

// sseEvents reads the data of every event of an SSE body.
func sseEvents(t *testing.T, body io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(body)
	var data string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			events = append(events, data)
			data = ""
			continue
		}
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		data += d
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if data != "" {
		t.Fatalf("an event without its blank line: %q", data)
	}
	return events
}

func post(t *testing.T, s *Server, body string) *http.Response {
	t.Helper()
	resp, err := http.Post("http://"+s.Addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// A stream is the role chunk, N content chunks, the usage chunk when asked
// for, and [DONE]: N+3 events (N+2 without usage).
func TestStreamEvents(t *testing.T) {
	const n = 6
	s := start(t, Options{Chunks: n})
	for _, tc := range []struct {
		name  string
		body  string
		usage bool
	}{
		{"with usage", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`, true},
		{"without usage", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, s, tc.body)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			events := sseEvents(t, resp.Body)
			want := n + 2
			if tc.usage {
				want++
			}
			if len(events) != want || events[len(events)-1] != "[DONE]" {
				t.Fatalf("%d events, last %q; want %d ending with [DONE]", len(events), events[len(events)-1], want)
			}
			type chunk struct {
				Object  string `json:"object"`
				Choices []struct {
					Delta struct {
						Role    string  `json:"role"`
						Content *string `json:"content"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				} `json:"choices"`
				Usage *struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			var chunks []chunk
			for _, e := range events[:len(events)-1] {
				var c chunk
				if err := json.Unmarshal([]byte(e), &c); err != nil || c.Object != "chat.completion.chunk" {
					t.Fatalf("event %q: %v", e, err)
				}
				chunks = append(chunks, c)
			}
			if chunks[0].Choices[0].Delta.Role != "assistant" {
				t.Errorf("first chunk has no assistant role: %q", events[0])
			}
			for i, c := range chunks[1 : n+1] {
				if len(c.Choices) != 1 || c.Choices[0].Delta.Content == nil || *c.Choices[0].Delta.Content != word {
					t.Errorf("content chunk %d: %q", i, events[i+1])
				}
				last := i == n-1
				if got := c.Choices[0].FinishReason != nil; got != last {
					t.Errorf("content chunk %d: finish_reason set = %v", i, got)
				}
			}
			if tc.usage {
				u := chunks[n+1]
				if len(u.Choices) != 0 || u.Usage == nil || u.Usage.CompletionTokens != n {
					t.Errorf("usage chunk: %q", events[n+1])
				}
			}
		})
	}
}

func TestRoutesAndErrors(t *testing.T) {
	s := start(t, Options{Models: []string{"one", "two"}})
	base := "http://" + s.Addr
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T, body []byte)
	}{
		{"models", "GET", "/v1/models", "", 200, func(t *testing.T, body []byte) {
			var l struct {
				Object string `json:"object"`
				Data   []struct {
					ID, Object string
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &l); err != nil || l.Object != "list" || len(l.Data) != 2 ||
				l.Data[0].ID != "one" || l.Data[1].ID != "two" || l.Data[0].Object != "model" {
				t.Errorf("models: %s", body)
			}
		}},
		{"answers with the first model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 200, func(t *testing.T, body []byte) {
			if !bytes.Contains(body, []byte(`"model":"one"`)) {
				t.Errorf("answer: %s", body)
			}
		}},
		{"invalid JSON", "POST", "/v1/chat/completions", `{"messages":`, 400, nil},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, nil},
		{"wrong method", "GET", "/v1/chat/completions", "", 405, nil},
		{"unknown route", "GET", "/v1/nothing", "", 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status >= 400 {
				var e struct {
					Error struct{ Message, Type, Code string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" || e.Error.Code == "" {
					t.Errorf("error body: %s", body)
				}
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

// Stop ends streams that are still open instead of waiting for them.
func TestStopEndsOpenStreams(t *testing.T) {
	s, err := Start("127.0.0.1:0", Options{Chunks: 1000, ChunkDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, s, `{"messages":[{"role":"user","content":"x"}],"stream":true}`)
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for a stream of an hour")
	}
}

// A variant's streams have its own number of chunks and carry its model id;
// other model names get the default shape; /v1/models lists both.
func TestVariants(t *testing.T) {
	v, err := ParseVariant("bench-burst=9/0s")
	if err != nil || v != (Variant{Model: "bench-burst", Chunks: 9}) || v.String() != "bench-burst=9/0s" {
		t.Fatalf("ParseVariant = %+v, %v", v, err)
	}
	for _, bad := range []string{"x", "x=1", "=1/0s", "x=0/0s", "x=1/-1s", "x=a/0s"} {
		if _, err := ParseVariant(bad); err == nil {
			t.Errorf("ParseVariant(%q) accepted", bad)
		}
	}
	s := start(t, Options{Chunks: 3, Variants: []Variant{v}})
	for _, tc := range []struct{ model, want string }{{"bench-burst", "bench-burst"}, {"other", DefaultModel}} {
		resp := post(t, s, `{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}],"stream":true}`)
		events := sseEvents(t, resp.Body)
		chunks := map[string]int{"bench-burst": 9, "other": 3}[tc.model]
		if len(events) != chunks+2 || !strings.Contains(events[1], `"model":"`+tc.want+`"`) {
			t.Errorf("%s: %d events, first content %q; want %d of model %s", tc.model, len(events), events[1], chunks+2, tc.want)
		}
	}
	resp, err := http.Get("http://" + s.Addr + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"id":"bench-burst"`) || !strings.Contains(string(body), `"id":"`+DefaultModel+`"`) {
		t.Errorf("models: %s", body)
	}
}
