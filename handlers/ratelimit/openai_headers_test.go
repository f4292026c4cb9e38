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

// TestResetDurationAsDurationString checks that waits of a second or more
// are written as time.Duration.String writes them, rounded to the second.
func TestResetDurationAsDurationString(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 1499 * time.Millisecond, 1500 * time.Millisecond, 59 * time.Second,
		time.Minute, 61 * time.Second, time.Hour, time.Hour + 5*time.Second, 25*time.Hour + 59*time.Minute + 59*time.Second, 400 * 24 * time.Hour} {
		if got, want := ResetDuration(d), d.Round(time.Second).String(); got != want {
			t.Errorf("ResetDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
