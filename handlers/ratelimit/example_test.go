package ratelimit_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
)

// A handler in front of the API checks the client IP's limit and then the
// principal's, writes the headers of both, and refuses with the spec's error.
func Example() {
	tiers := ratelimit.DefaultTiers()
	limiter := &ratelimit.Guarded{Limiter: ratelimit.NewLocal(), Policy: ratelimit.FailOpen}

	serve := func(w http.ResponseWriter, r *http.Request) {
		ip, err := limiter.Allow(r.Context(), ratelimit.IPKey(netip.MustParseAddr("203.0.113.7")), tiers.IP)
		if errors.Is(err, ratelimit.ErrUnavailable) { // only under FailClosed
			apierr.Write(w, ratelimit.UnavailableError())
			return
		}
		ratelimit.WriteHeaders(w.Header(), ip, true)
		if !ip.Allowed {
			apierr.Write(w, ratelimit.ExceededError(ip))
			return
		}
		if p := principal.From(r.Context()); p != nil {
			lim, _ := tiers.For(p.Kind)
			res, err := limiter.Allow(r.Context(), ratelimit.PrincipalKey(p), lim)
			if errors.Is(err, ratelimit.ErrUnavailable) {
				apierr.Write(w, ratelimit.UnavailableError())
				return
			}
			ratelimit.WriteHeaders(w.Header(), res, false)
			if !res.Allowed {
				apierr.Write(w, ratelimit.ExceededError(res))
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}

	guest := &principal.Principal{UserID: 1, Kind: principal.KindGuest}
	for range 11 {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
		req = req.WithContext(principal.With(req.Context(), guest))
		rec := httptest.NewRecorder()
		serve(rec, req)
		h := rec.Header()
		fmt.Printf("%d limit=%s remaining=%s ip-remaining=%s retry-after=%s\n", rec.Code, h.Get("X-RateLimit-Limit"),
			h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Remaining-Minute"), h.Get("Retry-After"))
	}
	// Output:
	// 200 limit=10 remaining=9 ip-remaining=99 retry-after=
	// 200 limit=10 remaining=8 ip-remaining=98 retry-after=
	// 200 limit=10 remaining=7 ip-remaining=97 retry-after=
	// 200 limit=10 remaining=6 ip-remaining=96 retry-after=
	// 200 limit=10 remaining=5 ip-remaining=95 retry-after=
	// 200 limit=10 remaining=4 ip-remaining=94 retry-after=
	// 200 limit=10 remaining=3 ip-remaining=93 retry-after=
	// 200 limit=10 remaining=2 ip-remaining=92 retry-after=
	// 200 limit=10 remaining=1 ip-remaining=91 retry-after=
	// 200 limit=10 remaining=0 ip-remaining=90 retry-after=
	// 429 limit=10 remaining=0 ip-remaining=89 retry-after=6
}
