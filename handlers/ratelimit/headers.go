package ratelimit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// The response headers, in Go's canonical form so that http.Header.Get
// finds them (on the wire header names are case-insensitive; HTTP/2 writes
// them in lower case anyway).
const (
	HeaderLimit           = "X-Ratelimit-Limit"            // X-RateLimit-Limit
	HeaderRemaining       = "X-Ratelimit-Remaining"        // X-RateLimit-Remaining
	HeaderReset           = "X-Ratelimit-Reset"            // X-RateLimit-Reset
	HeaderLimitMinute     = "X-Ratelimit-Limit-Minute"     // X-RateLimit-Limit-Minute
	HeaderRemainingMinute = "X-Ratelimit-Remaining-Minute" // X-RateLimit-Remaining-Minute
	HeaderRetryAfter      = "Retry-After"
)

// WriteHeaders writes the headers of one decision to h:
//
//   - X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (the
//     Unix time, in whole seconds rounded up, when the bucket is full again);
//   - for a per-IP decision (perIP) with a one-minute period, also
//     X-RateLimit-Limit-Minute and X-RateLimit-Remaining-Minute, the names
//     of the specification's per-IP gateway limit;
//   - Retry-After, in whole seconds rounded up, when the request was refused.
//
// When both a principal's and the client IP's limit apply, write both, in
// either order: the plain X-RateLimit-* headers describe the principal's
// limit (a per-IP decision writes them only when no principal's decision
// did), and the -Minute headers describe the IP's.
//
// A decision made by the fail-open policy reports the in-process bucket
// that made it.
func WriteHeaders(h http.Header, r Result, perIP bool) {
	plain := !perIP || h[HeaderLimit] == nil
	minute := perIP && r.Period == time.Minute
	retry := !r.Allowed && r.RetryAfter > 0

	// All values go into one string and one slice: two allocations in all.
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], int64(r.Limit), 10)
	endLimit := len(b)
	b = strconv.AppendInt(b, int64(r.Remaining), 10)
	endRemaining := len(b)
	b = strconv.AppendInt(b, ceilUnix(r.ResetAt), 10)
	endReset := len(b)
	if retry {
		b = strconv.AppendInt(b, ceilSeconds(r.RetryAfter), 10)
	}
	s := string(b)
	limit, remaining, reset, retryAfter := s[:endLimit], s[endLimit:endRemaining], s[endRemaining:endReset], s[endReset:]

	n := 0
	if plain {
		n += 3
	}
	if minute {
		n += 2
	}
	if retry {
		n++
	}
	values := make([]string, n)
	set := func(key, value string) {
		values[0] = value
		h[key] = values[:1:1]
		values = values[1:]
	}
	if plain {
		set(HeaderLimit, limit)
		set(HeaderRemaining, remaining)
		set(HeaderReset, reset)
	}
	if minute {
		set(HeaderLimitMinute, limit)
		set(HeaderRemainingMinute, remaining)
	}
	if retry {
		set(HeaderRetryAfter, retryAfter)
	}
}

// ceilUnix returns t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// ceilSeconds returns d in whole seconds, rounded up, at least one: a client
// that waits that long is let through.
func ceilSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// ExceededError returns the error of a refused request: 429 with code
// rate_limit_exceeded, in the specification's shape.
func ExceededError(r Result) *apierr.Error {
	seconds := ceilSeconds(r.RetryAfter)
	unit := " seconds."
	if seconds == 1 {
		unit = " second."
	}
	return apierr.New(http.StatusTooManyRequests, "rate_limit_exceeded",
		"Rate limit exceeded. Retry after "+strconv.FormatInt(seconds, 10)+unit)
}

// UnavailableError returns the error of a request refused by the fail-closed
// policy: 503 with code rate_limiter_unavailable.
func UnavailableError() *apierr.Error {
	return apierr.New(http.StatusServiceUnavailable, "rate_limiter_unavailable",
		"Rate limiting is temporarily unavailable. Please retry shortly.")
}
