package openai

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/anthropic"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

func embeddingsRouter(t *testing.T, deployments []provider.DeploymentConfig, provs ...provider.Provider) *provider.Router {
	t.Helper()
	r, err := provider.NewRouter(provs, provider.RouterConfig{Models: []provider.ModelConfig{{ID: "embedder", Deployments: deployments}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func embedWith(t *testing.T, r *provider.Router, inputs ...string) (*provider.Embeddings, provider.Attempt, error) {
	t.Helper()
	m, ok := r.Model("embedder")
	if !ok {
		t.Fatal("model embedder is not served")
	}
	return r.Embeddings(context.Background(), &provider.EmbeddingRequest{Inputs: inputs, Model: m, Dimensions: 4, RequestID: "req-1"})
}

// Embeddings go to POST {base}/embeddings with the upstream model name and
// dimensions; a failing deployment is passed over; a provider that cannot
// embed is skipped.
func TestEmbeddingsFailoverAndSkip(t *testing.T) {
	down := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.WriteJSON(w, http.StatusServiceUnavailable, providertest.ErrorBody("busy", "server_error", "busy"))
	}))
	good := providertest.NewUpstream(t, &providertest.EmbeddingsServer{})
	claude, err := anthropic.New(anthropic.Config{ID: "claude", APIKey: "k", BaseURL: down.URL})
	if err != nil {
		t.Fatal(err)
	}
	pDown, _ := New(Config{ID: "down", BaseURL: down.URL + "/v1"})
	pGood, _ := New(Config{ID: "good", BaseURL: good.URL + "/v1"})
	r := embeddingsRouter(t, []provider.DeploymentConfig{{Provider: "claude"}, {Provider: "down", Model: "e-down"}, {Provider: "good", Model: "e-good"}}, claude, pDown, pGood)
	for range 3 { // every round-robin start
		out, att, err := embedWith(t, r, "a", "b c")
		if err != nil {
			t.Fatalf("embeddings: %v", err)
		}
		if att.Provider != "good" || len(out.Vectors) != 2 || len(out.Vectors[0]) != 4 || out.PromptTokens != 3 {
			t.Fatalf("answer %+v by %+v", out, att)
		}
	}
	last := good.Last(t)
	body := last.JSON(t)
	if last.Path != "/v1/embeddings" || body["model"] != "e-good" || body["dimensions"] != float64(4) || last.Header.Get("X-Request-Id") != "req-1" {
		t.Fatalf("upstream got %s %s (request id %q)", last.Path, last.Body, last.Header.Get("X-Request-Id"))
	}
	for _, req := range down.Requests() {
		if !strings.HasSuffix(req.Path, "/embeddings") {
			t.Fatalf("the Anthropic provider was asked for embeddings: %s", req.Path)
		}
	}

	// Only a provider that cannot embed: a clear 400 naming the model.
	onlyClaude := embeddingsRouter(t, []provider.DeploymentConfig{{Provider: "claude"}}, claude)
	_, _, err = embedWith(t, onlyClaude, "a")
	var perr *provider.Error
	if !errors.As(err, &perr) || perr.APIError().Status != 400 || perr.APIError().Code != provider.CodeNoEmbeddings || perr.APIError().Param != "model" {
		t.Fatalf("embeddings with Anthropic only: %v", err)
	}
}

// An upstream answer that is not one vector per input is a 502.
func TestEmbeddingsMalformedAnswers(t *testing.T) {
	for name, answer := range map[string]string{
		"not json":           `{"data":`,
		"too few":            `{"data":[{"index":0,"embedding":[1,2]}]}`,
		"repeated index":     `{"data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[1,2]}]}`,
		"index out of range": `{"data":[{"index":0,"embedding":[1,2]},{"index":5,"embedding":[1,2]}]}`,
		"empty vector":       `{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[1,2]}]}`,
		"lengths differ":     `{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1,2,3]}]}`,
		"strings":            `{"data":[{"index":0,"embedding":"AAAA"},{"index":1,"embedding":"AAAA"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(answer))
			}))
			p, _ := New(Config{ID: "up", BaseURL: up.URL + "/v1"})
			_, _, err := embedWith(t, embeddingsRouter(t, []provider.DeploymentConfig{{Provider: "up"}}, p), "a", "b")
			var perr *provider.Error
			if !errors.As(err, &perr) || perr.APIError().Status != http.StatusBadGateway {
				t.Fatalf("error = %v, want a 502", err)
			}
		})
	}
}

// An upstream's refusal reaches the client (and the logs) without the
// provider's API key or the upstream's name for the model, and with the
// upstream's status class.
func TestEmbeddingsUpstreamErrorRedacted(t *testing.T) {
	const key, upstreamModel = "sk-embed-secret-123", "internal-embedder-v9"
	up := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.WriteJSON(w, http.StatusBadRequest, providertest.ErrorBody(
			"model "+upstreamModel+" rejected key "+key+": input too long", "invalid_request_error", "invalid_value"))
	}))
	p, err := New(Config{ID: "up", BaseURL: up.URL + "/v1", APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = embedWith(t, embeddingsRouter(t, []provider.DeploymentConfig{{Provider: "up", Model: upstreamModel}}, p), "a")
	var perr *provider.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error = %v, want a provider error", err)
	}
	e := perr.APIError()
	if e.Status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", e.Status)
	}
	for _, text := range []string{e.Message, perr.Error(), perr.Err.Error()} {
		if strings.Contains(text, key) || strings.Contains(text, upstreamModel) {
			t.Errorf("error text %q repeats the API key or the upstream model", text)
		}
	}
	if !strings.Contains(e.Message, "embedder") {
		t.Errorf("message %q does not name the public model", e.Message)
	}
}
