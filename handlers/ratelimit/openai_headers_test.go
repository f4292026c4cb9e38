package ratelimit

import (
	"net/http"
	"testing"
	"time"
)

func TestWriteRequestHeaders(t *testing.T) {
	h := http.Header{}
	WriteRequestHeaders(h, Result{Allowed: true, Limit: 60, Remaining: 42, ResetAt: time.Now().Add(18*time.Second + 400*time.Millisecond)})
	if h.Get("X-Ratelimit-Limit-Requests") != "60" || h.Get("X-Ratelimit-Remaining-Requests") != "42" {
		t.Errorf("headers = %v", h)
	}
	if got := h.Get("X-Ratelimit-Reset-Requests"); got != "18s" && got != "19s" {
		t.Errorf("reset = %q, want 18s", got)
	}
	for d, want := range map[time.Duration]string{-time.Second: "0ms", 250 * time.Millisecond: "250ms", 6 * time.Minute: "6m0s"} {
		if got := ResetDuration(d); got != want {
			t.Errorf("ResetDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
