package memory

import (
	"net/http"
	"testing"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	storemem "github.com/caddy-llm/gateway/store/memory"
)

// embeddingsQuota is a chat.Quota that admits everything and records what
// it admits and settles.
type embeddingsQuota struct {
	admitted []chat.QuotaRequest
	settled  []chat.Outcome
}

func (q *embeddingsQuota) Admit(_ http.ResponseWriter, _ *http.Request, req chat.QuotaRequest) (func(*chat.Outcome), *apierr.Error) {
	q.admitted = append(q.admitted, req)
	return func(o *chat.Outcome) { q.settled = append(q.settled, *o) }, nil
}

// An embeddings request is admitted for its inputs' estimated tokens and
// no answer (NoOutput), and settled once with the upstream's prompt
// tokens; a request refused before (unknown model) is never admitted.
func TestEmbeddingsQuota(t *testing.T) {
	router, _ := mockRouter(t)
	q := &embeddingsQuota{}
	s := httpxtest.NewServer(t, storemem.New(), &EmbeddingsHandler{Router: router, Quota: q})
	a, b := "one two three four", "five six seven eight"
	s.Do(t, Alice, "POST", "/v1/embeddings", map[string]any{"model": testModel, "input": []string{a, b}}).Want(t, http.StatusOK)
	s.Do(t, Alice, "POST", "/v1/embeddings", map[string]any{"model": "nope", "input": "x"}).WantError(t, http.StatusBadRequest, "invalid_model", "model")
	if len(q.admitted) != 1 || q.admitted[0].Model != testModel || !q.admitted[0].NoOutput || q.admitted[0].PromptTokens != chat.EstimatePromptTokens(len(a)+len(b)) {
		t.Fatalf("admitted %+v", q.admitted)
	}
	if len(q.settled) != 1 || q.settled[0].Status != http.StatusOK || !q.settled[0].HasUsage || q.settled[0].Usage.PromptTokens == 0 || q.settled[0].Usage.CompletionTokens != 0 {
		t.Fatalf("settled %+v", q.settled)
	}
}
