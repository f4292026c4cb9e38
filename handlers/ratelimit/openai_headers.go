package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// OpenAI's names of a principal's request limit, which its SDKs know.
const (
	HeaderLimitRequests     = "X-Ratelimit-Limit-Requests"
	HeaderRemainingRequests = "X-Ratelimit-Remaining-Requests"
	HeaderResetRequests     = "X-Ratelimit-Reset-Requests"
)

// WriteRequestHeaders writes a principal's decision under OpenAI's names
// too: x-ratelimit-limit-requests, x-ratelimit-remaining-requests and
// x-ratelimit-reset-requests (the time until the bucket is full again, as
// OpenAI writes it: "250ms", "1s", "6m0s"). The spec's X-RateLimit-* stay
// as WriteHeaders writes them.
func WriteRequestHeaders(h http.Header, r Result) {
	values := make([]string, 3)
	values[0] = strconv.Itoa(r.Limit)
	values[1] = strconv.Itoa(r.Remaining)
	values[2] = ResetDuration(time.Until(r.ResetAt))
	h[HeaderLimitRequests] = values[0:1:1]
	h[HeaderRemainingRequests] = values[1:2:2]
	h[HeaderResetRequests] = values[2:3:3]
}

// ResetDuration writes a wait as OpenAI's x-ratelimit-reset-* headers do:
// milliseconds below a second ("250ms"), else whole seconds ("1s",
// "6m0s").
func ResetDuration(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(max(d.Milliseconds(), 0), 10) + "ms"
	}
	return d.Round(time.Second).String()
}
