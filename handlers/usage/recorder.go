package usage

import (
	"math"
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Price is what a model's tokens cost, per million.
type Price struct {
	InputPerMillion  float64
	OutputPerMillion float64
}

// CostNanos returns the cost of the tokens in billionths of the price's unit.
func (p Price) CostNanos(prompt, completion int64) int64 {
	return int64(math.Round(float64(prompt)*p.InputPerMillion*1000 + float64(completion)*p.OutputPerMillion*1000))
}

// Tokens are the tokens a request took, as metered.
type Tokens struct {
	Prompt, Completion int64
	// Estimated reports that the upstream did not say (a stream cut before
	// its usage chunk): the prompt is the gateway's estimate and the
	// completion the chunks relayed.
	Estimated bool
}

// Total returns prompt plus completion tokens.
func (t Tokens) Total() int64 { return t.Prompt + t.Completion }

// Metered returns the tokens of an outcome: the upstream's count, else an
// estimate for an answer that started (a stream cut short), else none (the
// upstream failed before answering).
func Metered(o *chat.Outcome) Tokens {
	switch {
	case o.HasUsage:
		return Tokens{Prompt: int64(o.Usage.PromptTokens), Completion: int64(o.Usage.CompletionTokens)}
	case o.Status == http.StatusOK:
		return Tokens{Prompt: int64(o.EstimatedPromptTokens), Completion: int64(o.Chunks), Estimated: true}
	default:
		return Tokens{}
	}
}

// Recorder is a chat.Observer that records the usage of every request that
// reached a model deployment. A Recorder is built per config (its prices
// may change on reload) around the process's Writer.
type Recorder struct {
	// Writer receives the records. Required.
	Writer *Writer
	// Prices are the models' prices by public model id; a model without a
	// price costs nothing.
	Prices map[string]Price
	// OnRecord, when set, is called with every record (for metrics).
	OnRecord func(r *store.UsageRecord)
}

// FirstByte implements chat.Observer.
func (*Recorder) FirstByte(*http.Request, *chat.Outcome) {}

// Done implements chat.Observer: it queues the request's record. Requests
// refused before a deployment was tried took no tokens and are not
// recorded.
func (rec *Recorder) Done(r *http.Request, o *chat.Outcome) {
	p := principal.From(r.Context())
	if p == nil || o.Tries == 0 || o.Model == "" {
		return
	}
	t := Metered(o)
	ur := store.UsageRecord{
		RequestID:        r.Header.Get("X-Request-Id"),
		UserID:           p.UserID,
		Model:            o.Model,
		Provider:         o.Provider,
		PromptTokens:     t.Prompt,
		CompletionTokens: t.Completion,
		CostNanos:        rec.Prices[o.Model].CostNanos(t.Prompt, t.Completion),
		Estimated:        t.Estimated,
		Stream:           o.Stream,
		Incomplete:       o.Incomplete,
		Status:           o.Status,
		ErrorCode:        o.ErrorCode,
		TimeToFirstToken: o.TimeToFirstByte,
		Duration:         o.Duration,
		CreatedAt:        time.Now(),
	}
	if p.Kind == principal.KindAPIKey {
		ur.APIKeyID = p.APIKeyID
	}
	if rec.OnRecord != nil {
		rec.OnRecord(&ur)
	}
	rec.Writer.Add(ur)
}

var _ chat.Observer = (*Recorder)(nil)
