// Package llmratelimit holds the `llm_rate_limit` handler: GCRA rate limits
// per principal tier or per client IP, kept in Redis (exact across replicas)
// or, without Redis, in process.
package llmratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"sort"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/modules/llmapp"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Keys a limit can be counted by.
const (
	ByPrincipal = "principal"
	ByIP        = "ip"
)

// Handler limits the rate of the requests it sees. Put it after `llm_auth`
// when it counts by principal, and use a matcher to choose the routes it
// covers. Every response it lets through carries X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (epoch seconds); a per-IP limit
// also sets X-RateLimit-Limit-Minute and X-RateLimit-Remaining-Minute. A
// refused request gets 429 with Retry-After.
type Handler struct {
	// By is what requests are counted by: "principal" (the default: the
	// tier of the authenticated principal's kind) or "ip" (Caddy's client
	// IP, which honours the server's trusted_proxies).
	By string `json:"by,omitempty"`
	// Limit is the limit of a per-IP handler, and of principal kinds that
	// have no tier, written like "100/1m" or "1000/hour".
	Limit string `json:"limit,omitempty"`
	// Tiers maps principal kinds (guest, user, api_key) to their limits.
	Tiers map[string]string `json:"tiers,omitempty"`
	// FailClosed refuses requests with 503 while the limiter's store
	// (Redis) cannot be asked, and makes readiness require Redis. The
	// default, fail open, decides them with the in-process limiter and
	// the same limits (exact per node), and logs it at most once per 10
	// seconds; it never lets requests through unlimited.
	FailClosed bool `json:"fail_closed,omitempty"`
	// Name keeps this handler's counters apart from other handlers' that
	// count by the same key (default: the value of By).
	Name string `json:"name,omitempty"`
	// GuestByIP counts guests by client IP too (by principal only): a
	// guest request must pass both its own guest bucket and the bucket of
	// its client IP, which has the guest tier's limit and is shared by
	// every guest from that address. Guests are free to create, so
	// without it each new guest would bring a fresh guest tier.
	GuestByIP bool `json:"guest_by_ip,omitempty"`
	// Defer puts the decision off until the next handler of the request
	// that must know it: the next llm_rate_limit, which then decides both
	// limits at once (one Redis round trip for all of a request's
	// buckets), llm_auth before it refuses a request, or llm_api before it
	// serves one. A client this node already knows to be over the limit
	// (counted here, or refused by Redis lately) is refused at once. Use it only when llm_auth, llm_rate_limit or
	// llm_api follow: any other handler would run before the decision,
	// which is then made, and counted, only after the route returns.
	Defer bool `json:"defer,omitempty"`

	limit   *ratelimit.Limit
	tiers   map[string]ratelimit.Limit
	limiter *ratelimit.Guarded
	prefix  string
	app     *llmapp.App
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.llm_rate_limit",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision parses the limits and picks the limiter.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.By == "" {
		h.By = ByPrincipal
	}
	if h.Name == "" {
		h.Name = h.By
	}
	h.prefix = h.Name + ":" + h.limitsFingerprint() + ":"
	if h.Limit != "" {
		l, err := parseLimit(h.Name, h.Limit)
		if err != nil {
			return err
		}
		h.limit = &l
	}
	h.tiers = make(map[string]ratelimit.Limit, len(h.Tiers))
	for kind, spec := range h.Tiers {
		l, err := parseLimit(h.Name+"/"+kind, spec)
		if err != nil {
			return err
		}
		h.tiers[kind] = l
	}
	app, err := llmapp.FromContext(ctx)
	if err != nil {
		return err
	}
	h.app = app
	policy := ratelimit.FailOpen
	if h.FailClosed {
		policy = ratelimit.FailClosed
		app.RequireRedis() // without Redis this limit refuses everything
	}
	h.limiter = &ratelimit.Guarded{
		Limiter: app.Limiter(),
		Policy:  policy,
		Logger:  h.logger,
		OnError: app.Metrics().RateLimitError,
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	switch h.By {
	case ByIP:
		if h.limit == nil {
			return fmt.Errorf("llm_rate_limit by ip needs a limit")
		}
		if len(h.tiers) > 0 {
			return fmt.Errorf("llm_rate_limit by ip takes no tiers")
		}
	case ByPrincipal:
		if _, ok := h.tiers[principal.KindGuest]; h.GuestByIP && !ok && h.limit == nil {
			return fmt.Errorf("llm_rate_limit guest_by_ip needs a guest tier or a limit")
		}
		if h.limit == nil && len(h.tiers) == 0 {
			return fmt.Errorf("llm_rate_limit by principal needs tiers or a limit")
		}
		for kind := range h.tiers {
			switch kind {
			case principal.KindGuest, principal.KindUser, principal.KindAPIKey:
			default:
				return fmt.Errorf("llm_rate_limit: unknown tier %q (want guest, user or api_key)", kind)
			}
		}
	default:
		return fmt.Errorf("llm_rate_limit: by must be %q or %q, not %q", ByPrincipal, ByIP, h.By)
	}
	if h.GuestByIP && h.By != ByPrincipal {
		return fmt.Errorf("llm_rate_limit: guest_by_ip needs by principal")
	}
	return nil
}

// ServeHTTP counts the request and refuses it when over its limit. It also
// decides the limits that handlers before it put off (Defer), in the same
// round trip as its own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := pendingOf(r)
	if p == nil {
		p = getPending()
		defer putPending(p)
		if !p.add(h, r) {
			return next.ServeHTTP(w, r)
		}
		if !h.Defer || p.refusedHere() {
			if !p.settle(w, r) {
				return nil
			}
			return next.ServeHTTP(w, r)
		}
		caddyhttp.SetVar(r.Context(), pendingVar, p)
		err := next.ServeHTTP(w, r)
		if !p.settled {
			// Nothing after this handler decided: count the request
			// now that it was served.
			p.settle(nil, r)
		}
		caddyhttp.SetVar(r.Context(), pendingVar, nil)
		return err
	}
	// Limits of handlers before this one are pending.
	if added := p.add(h, r); h.Defer && !(added && p.refusedHere()) {
		return next.ServeHTTP(w, r)
	}
	if !p.settle(w, r) {
		return nil
	}
	return next.ServeHTTP(w, r)
}

// keyAndLimit returns the counter key and limit of the request; ok is false
// when no limit applies (no principal, or a kind without tier or limit).
func (h *Handler) keyAndLimit(r *http.Request) (string, ratelimit.Limit, bool) {
	if h.By == ByIP {
		return h.prefix + ratelimit.IPKey(clientIP(r)), *h.limit, true
	}
	p := principal.From(r.Context())
	if p == nil {
		return "", ratelimit.Limit{}, false
	}
	limit, ok := h.tiers[p.Kind]
	if !ok {
		if h.limit == nil {
			return "", ratelimit.Limit{}, false
		}
		limit = *h.limit
	}
	return h.prefix + ratelimit.PrincipalKey(p), limit, true
}

// guestIPKey returns the key of the guest tier's per-IP bucket, when the
// request is a guest's and the handler counts guests by IP.
func (h *Handler) guestIPKey(r *http.Request) (string, bool) {
	if !h.GuestByIP {
		return "", false
	}
	if p := principal.From(r.Context()); p == nil || p.Kind != principal.KindGuest {
		return "", false
	}
	return h.prefix + "guest_" + ratelimit.IPKey(clientIP(r)), true
}

// clientIP is Caddy's client IP: the peer's address, or the one a trusted
// proxy forwarded (the server's trusted_proxies decide).
func clientIP(r *http.Request) netip.Addr {
	if s, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		if ip, err := netip.ParseAddr(s); err == nil {
			return ip
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr()
	}
	return netip.Addr{}
}

// limitsFingerprint is a short digest of the handler's numbers. It is part
// of every counter key, so that a reload which changes a limit starts from
// fresh buckets: GCRA state kept under a stricter old limit would otherwise
// hold a raised one back until it drained.
func (h *Handler) limitsFingerprint() string {
	kinds := make([]string, 0, len(h.Tiers))
	for kind := range h.Tiers {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	sum := sha256.New()
	sum.Write([]byte(h.Limit))
	for _, kind := range kinds {
		sum.Write([]byte("\x00" + kind + "=" + h.Tiers[kind]))
	}
	return hex.EncodeToString(sum.Sum(nil)[:4])
}

func parseLimit(name, spec string) (ratelimit.Limit, error) {
	l, err := ratelimit.ParseLimit(spec)
	if err != nil {
		return l, fmt.Errorf("llm_rate_limit %s: %w", name, err)
	}
	l.Name = name
	if err := l.Validate(); err != nil {
		return l, fmt.Errorf("llm_rate_limit %s: %w", name, err)
	}
	return l, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
