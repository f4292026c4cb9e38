package memory

import (
	"net/http"
	"sync"
	"testing"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	storemem "github.com/caddy-llm/gateway/store/memory"
)

// recordingObserver keeps the outcomes it is given.
type recordingObserver struct {
	mu       sync.Mutex
	outcomes []chat.Outcome
}

func (o *recordingObserver) FirstByte(*http.Request, *chat.Outcome) {}

func (o *recordingObserver) Done(_ *http.Request, out *chat.Outcome) {
	o.mu.Lock()
	o.outcomes = append(o.outcomes, *out)
	o.mu.Unlock()
}

// Embeddings requests are observed as chat requests are: model, provider,
// status, error code and prompt tokens, for metrics, access logs and usage.
func TestEmbeddingsOutcomes(t *testing.T) {
	router, _ := mockRouter(t)
	obs := &recordingObserver{}
	st := storemem.New()
	s := httpxtest.NewServer(t, st, &EmbeddingsHandler{Router: router, Observer: obs})
	s.Do(t, Alice, "POST", "/v1/embeddings", map[string]any{"model": testModel, "input": []string{"one two", "three"}}).Want(t, http.StatusOK)
	s.Do(t, Alice, "POST", "/v1/embeddings", map[string]any{"model": "nope", "input": "x"}).WantError(t, http.StatusBadRequest, "invalid_model", "model")
	s.Do(t, "", "POST", "/v1/embeddings", map[string]any{"model": testModel, "input": "x"}).WantError(t, http.StatusUnauthorized, "unauthorized", "")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.outcomes) != 3 {
		t.Fatalf("%d outcomes, want 3", len(obs.outcomes))
	}
	ok, bad, anon := obs.outcomes[0], obs.outcomes[1], obs.outcomes[2]
	if ok.Model != testModel || ok.Provider != "mock" || ok.Status != 200 || !ok.HasUsage || ok.Usage.PromptTokens != 3 || ok.Usage.CompletionTokens != 0 || ok.Stream {
		t.Errorf("success outcome %+v", ok)
	}
	if bad.Status != 400 || bad.ErrorCode != "invalid_model" || anon.Status != 401 {
		t.Errorf("error outcomes %+v, %+v", bad, anon)
	}
}

// Inputs and dimensions are each within their bounds, yet their product is
// bounded too: a request that asks for more numbers than one answer may hold
// is a 400 naming dimensions, and nothing is embedded.
func TestEmbeddingsInputsTimesDimensionsBounded(t *testing.T) {
	router, cm := mockRouter(t)
	s := httpxtest.NewServer(t, storemem.New(), &EmbeddingsHandler{Router: router})
	inputs := make([]string, MaxEmbeddingInputs)
	for i := range inputs {
		inputs[i] = "x"
	}
	if MaxEmbeddingInputs*MaxEmbeddingDimensions <= MaxEmbeddingValues {
		t.Fatalf("%d inputs × %d dimensions is within %d: the test asks for nothing too large", MaxEmbeddingInputs, MaxEmbeddingDimensions, MaxEmbeddingValues)
	}
	s.Do(t, Alice, "POST", "/v1/embeddings", map[string]any{"model": testModel, "input": inputs, "dimensions": MaxEmbeddingDimensions}).
		WantError(t, http.StatusBadRequest, "invalid_value", "dimensions")
	if n := cm.embeddings.Load(); n != 0 {
		t.Fatalf("%d embeddings calls for a refused request", n)
	}
	// At the bound, the request is served.
	s.Do(t, Alice, "POST", "/v1/embeddings", map[string]any{"model": testModel, "input": inputs[:MaxEmbeddingValues/MaxEmbeddingDimensions], "dimensions": MaxEmbeddingDimensions}).
		Want(t, http.StatusOK)
}
