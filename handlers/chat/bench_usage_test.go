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
	return meteredBench(b, true)
}

// meteredBench builds the metered handler, with a token limit or, as the
// default Caddyfile ships, with none (no limit, no budget: the quota only
// looks the caller's limits up in its cache).
func meteredBench(b *testing.B, limited bool) (*benchSetup, func()) {
	h := benchHandler(b)
	st := memory.New()
	u, err := st.UpsertUser(b.Context(), store.User{Issuer: "bench", Subject: "u", Kind: store.UserKindUser})
	if err != nil {
		b.Fatal(err)
	}
	w := usage.NewWriter(usage.WriterConfig{Store: st})
	limits, _ := ratelimit.ParseTokenLimits("1000000000/min")
	h.Observer = &usage.Recorder{Writer: w, Prices: map[string]usage.Price{"jan-v1-4b": {InputPerMillion: 1, OutputPerMillion: 2}}}
	tiers := map[string][]ratelimit.Limit{principal.KindUser: limits}
	if !limited {
		tiers = nil
	}
	h.Quota = &usage.Quota{
		Tokens: ratelimit.NewTokenLimiter(ratelimit.TokenLimiterOptions{}),
		Tiers:  tiers,
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

// BenchmarkChatCompletionMeteredUnlimited and
// BenchmarkChatStreamMeteredUnlimited are metering as shipped: a record per
// request, no token limit nor budget configured.
func BenchmarkChatCompletionMeteredUnlimited(b *testing.B) {
	s, done := meteredBench(b, false)
	defer done()
	benchmarkChat(b, s.h, principal.With(b.Context(), s.p), benchPlain)
}

func BenchmarkChatStreamMeteredUnlimited(b *testing.B) {
	s, done := meteredBench(b, false)
	defer done()
	benchmarkChat(b, s.h, principal.With(b.Context(), s.p), benchStream)
}

type benchSetup struct {
	h *chat.Handler
	p *principal.Principal
}
