package usage

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

func TestMetered(t *testing.T) {
	for name, tc := range map[string]struct {
		o    chat.Outcome
		want Tokens
	}{
		"upstream usage": {chat.Outcome{Status: 200, HasUsage: true, Usage: openai.Usage{PromptTokens: 7, CompletionTokens: 9}, EstimatedPromptTokens: 100, Chunks: 3},
			Tokens{Prompt: 7, Completion: 9}},
		"cut stream": {chat.Outcome{Status: 200, Incomplete: true, EstimatedPromptTokens: 12, Chunks: 4},
			Tokens{Prompt: 12, Completion: 4, Estimated: true}},
		"failed before answering": {chat.Outcome{Status: 502, EstimatedPromptTokens: 12}, Tokens{}},
	} {
		if got := Metered(&tc.o); got != tc.want {
			t.Errorf("%s: Metered = %+v, want %+v", name, got, tc.want)
		}
	}
}

func TestPriceCostNanos(t *testing.T) {
	p := Price{InputPerMillion: 0.15, OutputPerMillion: 0.6}
	if got := p.CostNanos(1000, 2000); got != 150_000+1_200_000 {
		t.Errorf("CostNanos = %d, want 1350000", got)
	}
}

func TestRecorderRecordsOnlyRequestsThatReachedAModel(t *testing.T) {
	st := memory.New()
	u, _ := st.UpsertUser(t.Context(), store.User{Issuer: "t", Subject: "s", Kind: store.UserKindUser})
	w := NewWriter(WriterConfig{Store: st, FlushInterval: time.Hour})
	rec := &Recorder{Writer: w, Prices: map[string]Price{"m": {InputPerMillion: 1, OutputPerMillion: 2}}}
	p := &principal.Principal{UserID: u.ID, Kind: principal.KindAPIKey, APIKeyID: 42}
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil).WithContext(principal.With(t.Context(), p))
	r.Header.Set("X-Request-Id", "req-1")
	rec.Done(r, &chat.Outcome{Model: "m", Status: http.StatusBadRequest})                // refused before a deployment: no record
	rec.Done(httptest.NewRequest("POST", "/", nil), &chat.Outcome{Model: "m", Tries: 1}) // no principal
	rec.Done(r, &chat.Outcome{Model: "m", Provider: "up", Tries: 1, Status: 200, HasUsage: true,
		Usage: openai.Usage{PromptTokens: 10, CompletionTokens: 20}, Stream: true})
	_ = w.Close()
	recs, _ := st.ListUsageRecords(t.Context(), u.ID, time.Unix(0, 0), time.Now().Add(time.Hour), 10)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	got := recs[0]
	if got.RequestID != "req-1" || got.Model != "m" || got.Provider != "up" || got.PromptTokens != 10 || got.CompletionTokens != 20 ||
		got.CostNanos != 10*1000+20*2000 || !got.Stream || got.APIKeyID != 42 {
		t.Errorf("record = %+v", got)
	}
}

// BenchmarkRecorderDone is what metering adds to a request's path: one
// record built and queued.
func BenchmarkRecorderDone(b *testing.B) {
	st := memory.New()
	w := NewWriter(WriterConfig{Store: st, FlushInterval: 10 * time.Millisecond, MaxBuffer: 1 << 20})
	defer w.Close()
	rec := &Recorder{Writer: w, Prices: map[string]Price{"m": {InputPerMillion: 1, OutputPerMillion: 2}}}
	p := &principal.Principal{UserID: 1, Kind: principal.KindUser}
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil).WithContext(principal.With(b.Context(), p))
	o := &chat.Outcome{Model: "m", Provider: "up", Tries: 1, Status: 200, HasUsage: true, Usage: openai.Usage{PromptTokens: 10, CompletionTokens: 20}}
	b.ReportAllocs()
	for b.Loop() {
		rec.Done(r, o)
	}
}
