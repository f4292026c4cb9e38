package chat_test

import (
	"testing"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/handlers/usage"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// meteredBenchHandler is benchHandler with metering (a record per request,
// queued for the writer) and a quota (token limits in process, limits
// looked up through the cache) on: compare with BenchmarkChatCompletion and
// BenchmarkChatStream for what metering adds to a request.
func meteredBenchHandler(b *testing.B) (*benchSetup, func()) {
	h := benchHandler(b)
	st := memory.New()
	u, err := st.UpsertUser(b.Context(), store.User{Issuer: "bench", Subject: "u", Kind: store.UserKindUser})
	if err != nil {
		b.Fatal(err)
	}
	w := usage.NewWriter(usage.WriterConfig{Store: st})
	limits, _ := ratelimit.ParseTokenLimits("1000000000/min")
	h.Observer = &usage.Recorder{Writer: w, Prices: map[string]usage.Price{"jan-v1-4b": {InputPerMillion: 1, OutputPerMillion: 2}}}
	h.Quota = &usage.Quota{
		Tokens: ratelimit.NewTokenLimiter(ratelimit.TokenLimiterOptions{}),
		Tiers:  map[string][]ratelimit.Limit{principal.KindUser: limits},
		Limits: &usage.LimitCache{Store: st},
	}
	p := &principal.Principal{UserID: u.ID, UserPublicID: u.PublicID, Kind: principal.KindUser}
	return &benchSetup{h: h, p: p}, func() { _ = w.Close() }
}

func BenchmarkChatCompletionMetered(b *testing.B) {
	s, done := meteredBenchHandler(b)
	defer done()
	benchmarkChat(b, s.h, principal.With(b.Context(), s.p), benchPlain)
}

func BenchmarkChatStreamMetered(b *testing.B) {
	s, done := meteredBenchHandler(b)
	defer done()
	benchmarkChat(b, s.h, principal.With(b.Context(), s.p), benchStream)
}

type benchSetup struct {
	h *chat.Handler
	p *principal.Principal
}
