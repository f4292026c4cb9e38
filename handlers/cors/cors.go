// Package cors answers the CORS requests of browser clients (Jan's web app
// calls the API from an origin of its own): preflights, and the headers that
// let a page read the API's answers and their headers.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ExposedHeaders are the response headers a page may read: the rate-limit
// headers, Retry-After, the request id and the identity headers. CORS's "*"
// does not cover them when credentials are allowed, so they are named.
var ExposedHeaders = []string{
	"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
	"X-RateLimit-Limit-Minute", "X-RateLimit-Remaining-Minute",
	"Retry-After", "X-Request-Id", "X-Auth-Method", "X-Principal-Id", "X-User-ID",
	// OpenAI's names of the request and token limits (handlers/ratelimit,
	// handlers/usage), which its JS SDK reads.
	"X-RateLimit-Limit-Requests", "X-RateLimit-Remaining-Requests", "X-RateLimit-Reset-Requests",
	"X-RateLimit-Limit-Tokens", "X-RateLimit-Remaining-Tokens", "X-RateLimit-Reset-Tokens",
}

// allowedMethods are the methods of the API's routes.
const allowedMethods = "GET, HEAD, POST, PATCH, DELETE"

// DefaultMaxAge is how long a browser may cache a preflight's answer.
const DefaultMaxAge = 10 * time.Minute

// Policy says which origins may call the API from a browser.
type Policy struct {
	any     bool
	origins map[string]bool
	maxAge  string
	exposed string
}

// NewPolicy returns the policy for the origins: each is "*" (any origin,
// without credentials) or a scheme, host and optional port such as
// "https://app.jan.ai" (with credentials, so that the refresh cookie works).
// No origins turns CORS off: no request gets CORS headers. maxAge bounds
// preflight caching (DefaultMaxAge when zero).
func NewPolicy(origins []string, maxAge time.Duration) (*Policy, error) {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	p := &Policy{
		origins: make(map[string]bool, len(origins)),
		maxAge:  strconv.Itoa(int(maxAge / time.Second)),
		exposed: strings.Join(ExposedHeaders, ", "),
	}
	for _, o := range origins {
		if o == "*" {
			p.any = true
			continue
		}
		norm, err := normalize(o)
		if err != nil {
			return nil, err
		}
		p.origins[norm] = true
	}
	if p.any && len(p.origins) > 0 {
		return nil, errors.New("origin * allows every origin: list it alone")
	}
	return p, nil
}

// normalize checks that o is an origin as browsers send it and returns it in
// lower case.
func normalize(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("origin %q: want scheme://host[:port], such as https://app.example.com", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// Enabled reports whether any origin is allowed.
func (p *Policy) Enabled() bool { return p.any || len(p.origins) > 0 }

func (p *Policy) allows(origin string) bool {
	return p.any || p.origins[strings.ToLower(origin)]
}

// Handle adds the CORS headers of the request's answer and answers
// preflights itself. It reports true when it has answered; the caller then
// stops. It runs before authentication and rate limits: a preflight carries
// no credentials, and counting it would halve a browser's limit.
func (p *Policy) Handle(w http.ResponseWriter, r *http.Request) bool {
	if !p.Enabled() {
		return false
	}
	h := w.Header()
	if !p.any {
		// The answer depends on the Origin, also when there is none:
		// caches must not hand one origin's answer to another.
		h.Add("Vary", "Origin")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	allowed := p.allows(origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if allowed {
			p.allowOrigin(h, origin)
			h.Set("Access-Control-Allow-Methods", allowedMethods)
			// Whatever headers the page sends (the OpenAI SDK adds its
			// own x-stainless-*) are allowed: the API's protection is its
			// credentials, not the names of headers.
			if req := r.Header.Get("Access-Control-Request-Headers"); validHeaderList(req) {
				h.Set("Access-Control-Allow-Headers", req)
			}
			h.Set("Access-Control-Max-Age", p.maxAge)
		}
		// A refused origin gets no CORS headers: the browser then blocks
		// the request it wanted to send.
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if allowed {
		p.allowOrigin(h, origin)
		h.Set("Access-Control-Expose-Headers", p.exposed)
	}
	return false
}

func (p *Policy) allowOrigin(h http.Header, origin string) {
	if p.any {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
}

// validHeaderList reports whether s is a comma-separated list of header
// names, so that echoing it cannot smuggle anything else into the answer.
func validHeaderList(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
