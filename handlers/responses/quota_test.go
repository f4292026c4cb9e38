package responses_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	"github.com/caddy-llm/gateway/handlers/responses"
)

// quota is a chat.Quota that refuses jan-v1-7b and records what it admits
// and settles.
type quota struct {
	mu       sync.Mutex
	admitted []chat.QuotaRequest
	settled  []chat.Outcome
}

func (q *quota) Admit(w http.ResponseWriter, _ *http.Request, req chat.QuotaRequest) (func(*chat.Outcome), *apierr.Error) {
	if req.Model == "jan-v1-7b" {
		return nil, apierr.New(http.StatusNotFound, "model_not_found", "no")
	}
	w.Header().Set("X-Ratelimit-Limit-Tokens", "1000")
	q.mu.Lock()
	defer q.mu.Unlock()
	q.admitted = append(q.admitted, req)
	return func(o *chat.Outcome) {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.settled = append(q.settled, *o)
	}, nil
}

// A creation is admitted by the quota before it goes upstream, with its
// model, prompt estimate and max_output_tokens (else the model's), and settled once with the
// upstream's usage, plain and streamed; a refusal is answered as the quota
// says and never settled.
func TestQuotaAdmitsAndSettles(t *testing.T) {
	q := &quota{}
	s, obs := newServer(t, func(h *responses.Handler) { h.Quota = q })

	r := s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "hello", "max_output_tokens": 50}).Want(t, 200)
	if r.Header.Get("X-Ratelimit-Limit-Tokens") != "1000" {
		t.Errorf("the quota's headers are not sent: %v", r.Header)
	}
	s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-4b", "input": "hello", "stream": true}).Want(t, 200)
	s.Do(t, httpxtest.Alice, "POST", "/v1/responses", map[string]any{"model": "jan-v1-7b", "input": "hello"}).WantError(t, 404, "model_not_found", "")
	if out := obs.last(t); out.Status != 404 || out.ErrorCode != "model_not_found" {
		t.Errorf("refusal's outcome %+v", out)
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.admitted) != 2 || q.admitted[0].MaxTokens != 50 || q.admitted[1].MaxTokens != mock.DefaultMaxOutputTokens || q.admitted[0].PromptTokens == 0 || q.admitted[0].NoOutput {
		t.Fatalf("admitted %+v", q.admitted)
	}
	if len(q.settled) != 2 {
		t.Fatalf("settled %d times, want 2 (the refusal is not)", len(q.settled))
	}
	for i, o := range q.settled {
		if o.Status != 200 || !o.HasUsage || o.Usage.CompletionTokens == 0 || o.Stream != (i == 1) || o.EstimatedPromptTokens == 0 {
			t.Errorf("settled outcome %d: %+v", i, o)
		}
	}
}
