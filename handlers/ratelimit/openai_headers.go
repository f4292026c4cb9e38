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
	// All values go into one string and one slice: two allocations in all,
	// as WriteHeaders does (this runs on every request of a principal).
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], int64(r.Limit), 10)
	endLimit := len(b)
	b = strconv.AppendInt(b, int64(r.Remaining), 10)
	endRemaining := len(b)
	b = appendResetDuration(b, time.Until(r.ResetAt))
	s := string(b)
	values := []string{s[:endLimit], s[endLimit:endRemaining], s[endRemaining:]}
	h[HeaderLimitRequests] = values[0:1:1]
	h[HeaderRemainingRequests] = values[1:2:2]
	h[HeaderResetRequests] = values[2:3:3]
}

// ResetDuration writes a wait as OpenAI's x-ratelimit-reset-* headers do:
// milliseconds below a second ("250ms"), else whole seconds ("1s",
// "6m0s").
func ResetDuration(d time.Duration) string {
	var buf [32]byte
	return string(appendResetDuration(buf[:0], d))
}

// appendResetDuration appends ResetDuration(d) to b: whole seconds are
// written as time.Duration.String writes them ("59s", "1m0s", "2h0m5s").
func appendResetDuration(b []byte, d time.Duration) []byte {
	if d < time.Second {
		return append(strconv.AppendInt(b, max(d.Milliseconds(), 0), 10), "ms"...)
	}
	secs := int64(d.Round(time.Second) / time.Second)
	hours, minutes := secs/3600, secs%3600/60
	if hours > 0 {
		b = append(strconv.AppendInt(b, hours, 10), 'h')
	}
	if hours > 0 || minutes > 0 {
		b = append(strconv.AppendInt(b, minutes, 10), 'm')
	}
	return append(strconv.AppendInt(b, secs%60, 10), 's')
}
