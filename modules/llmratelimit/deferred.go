package llmratelimit

import (
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
)

// pendingVar is the Caddy variable that holds a request's pending limits. A
// variable rather than a context value: Caddy's vars map is already there,
// where a context value would copy the request.
const pendingVar = "llm.rate_limit.pending"

// pending holds the limits a request's handlers put off (the `defer`
// option), so that the next handler that must know the outcome decides all
// of them at once: with Redis, one round trip for every bucket of the
// request instead of one per handler.
type pending struct {
	checks  []ratelimit.Check
	groups  []group
	results []ratelimit.Result
	settled bool

	checkBuf  [4]ratelimit.Check
	groupBuf  [3]group
	resultBuf [4]ratelimit.Result
}

// group is the checks of one handler: one bucket, or two for a guest
// counted by IP too (see Handler.GuestByIP).
type group struct {
	h *Handler
	n int
}

var pendingPool = sync.Pool{New: func() any { return new(pending) }}

// getPending returns an empty pending from the pool.
func getPending() *pending {
	p := pendingPool.Get().(*pending)
	p.checks, p.groups, p.results = p.checkBuf[:0], p.groupBuf[:0], p.resultBuf[:0]
	p.settled = false
	return p
}

// putPending returns p to the pool, dropping what it refers to.
func putPending(p *pending) {
	*p = pending{}
	pendingPool.Put(p)
}

// pendingOf returns the request's pending limits, nil when none.
func pendingOf(r *http.Request) *pending {
	p, _ := caddyhttp.GetVar(r.Context(), pendingVar).(*pending)
	if p != nil && p.settled {
		return nil
	}
	return p
}

// add puts h's checks of the request in p; ok is false when no limit of h
// applies to it.
func (p *pending) add(h *Handler, r *http.Request) bool {
	key, limit, ok := h.keyAndLimit(r)
	if !ok {
		return false
	}
	p.checks = append(p.checks, ratelimit.Check{Guard: h.limiter, Key: key, Limit: limit})
	n := 1
	if ipKey, ok := h.guestIPKey(r); ok {
		p.checks = append(p.checks, ratelimit.Check{Guard: h.limiter, Key: ipKey, Limit: limit})
		n++
	}
	p.groups = append(p.groups, group{h: h, n: n})
	return true
}

// refusedHere reports whether this node's copy of the buckets already
// refuses one of h's checks, the last ones added: a client over its limit
// is then refused at once, before the handlers that follow do any work
// for it, as it would be without `defer`.
func (p *pending) refusedHere() bool {
	g := p.groups[len(p.groups)-1]
	for _, c := range p.checks[len(p.checks)-g.n:] {
		if c.Guard.Refuses(c.Key, c.Limit) {
			return true
		}
	}
	return false
}

// settle decides every pending check in one go and writes the headers of
// each handler's decision to w, in the order the handlers ran. It reports
// whether the request may go on; when not, it wrote the 429 or 503 (unless
// w is nil: the response was written already, and the decision only
// counts).
func (p *pending) settle(w http.ResponseWriter, r *http.Request) bool {
	p.settled = true
	if len(p.groups) == 0 {
		return true
	}
	app := p.groups[0].h.app
	leave := app.Enter()
	results, err := ratelimit.AllowAll(r.Context(), p.checks, p.results)
	leave()
	p.results = results
	i := 0
	for _, g := range p.groups {
		if i >= len(results) {
			break // an earlier handler's limit refused the request
		}
		rs := results[i:min(i+g.n, len(results))]
		i += g.n
		var gerr error
		if err != nil && i >= len(results) {
			gerr = err // the decision of the last check decided failed
		}
		res := rs[0]
		if len(rs) == 2 {
			// A guest passed its own bucket and then the one it shares
			// with every guest of its address; the response describes
			// the stricter of the two.
			degraded := rs[0].Degraded || rs[1].Degraded
			if gerr != nil || !rs[1].Allowed || rs[1].Remaining < rs[0].Remaining {
				res = rs[1]
			} else {
				gerr = nil
			}
			res.Degraded = degraded
		}
		app.Metrics().RateLimitDecision(g.h.Name, res.Allowed, gerr != nil || res.Degraded)
		if w == nil {
			continue
		}
		if gerr != nil {
			apierr.Write(w, ratelimit.UnavailableError())
			return false
		}
		ratelimit.WriteHeaders(w.Header(), res, g.h.By == ByIP)
		if g.h.By == ByPrincipal {
			ratelimit.WriteRequestHeaders(w.Header(), res) // OpenAI's names, for its SDKs
		}
		if !res.Allowed {
			apierr.Write(w, ratelimit.ExceededError(res))
			return false
		}
	}
	return true
}

// Settle decides the limits that the request's `llm_rate_limit` handlers
// put off (their `defer` option), if any, and writes their headers. It
// reports whether the request may go on; when not, it wrote the refusal.
// Handlers that follow a deferring limit call it before they do anything a
// limit should prevent: llm_auth before it answers with a refusal of its
// own, llm_api before it serves.
func Settle(w http.ResponseWriter, r *http.Request) bool {
	p := pendingOf(r)
	if p == nil {
		return true
	}
	return p.settle(w, r)
}
