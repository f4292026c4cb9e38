package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"

	"github.com/caddy-llm/gateway/handlers/provider/mock"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
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
