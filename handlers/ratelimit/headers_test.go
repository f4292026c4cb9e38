package ratelimit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

func TestWriteHeaders(t *testing.T) {
	resetAt := time.Unix(1_609_459_199, 250_000_000) // shown rounded up: 1609459200
	user := Result{Allowed: true, Limit: 60, Remaining: 59, ResetAt: resetAt, Period: time.Minute}
	ip := Result{Allowed: true, Limit: 100, Remaining: 97, ResetAt: resetAt.Add(2 * time.Second), Period: time.Minute}
	tests := []struct {
		name   string
		before http.Header
		result Result
		perIP  bool
		want   http.Header
	}{
		{"allowed, as in the spec", nil, user, false, http.Header{
			"X-Ratelimit-Limit":     {"60"},
			"X-Ratelimit-Remaining": {"59"},
			"X-Ratelimit-Reset":     {"1609459200"},
		}},
		{"reset on a whole second", nil, Result{Allowed: true, Limit: 10, Remaining: 9, ResetAt: time.Unix(1_609_459_200, 0), Period: time.Minute}, false, http.Header{
			"X-Ratelimit-Limit":     {"10"},
			"X-Ratelimit-Remaining": {"9"},
			"X-Ratelimit-Reset":     {"1609459200"},
		}},
		{"refused: Retry-After rounded up", nil, Result{Limit: 1000, ResetAt: resetAt, RetryAfter: 1500 * time.Millisecond, Period: time.Hour}, false, http.Header{
			"X-Ratelimit-Limit":     {"1000"},
			"X-Ratelimit-Remaining": {"0"},
			"X-Ratelimit-Reset":     {"1609459200"},
			"Retry-After":           {"2"},
		}},
		{"refused for less than a second", nil, Result{Limit: 60, ResetAt: resetAt, RetryAfter: time.Millisecond, Period: time.Minute}, false, http.Header{
			"X-Ratelimit-Limit":     {"60"},
			"X-Ratelimit-Remaining": {"0"},
			"X-Ratelimit-Reset":     {"1609459200"},
			"Retry-After":           {"1"},
		}},
		{"per IP alone", nil, ip, true, http.Header{
			"X-Ratelimit-Limit":            {"100"},
			"X-Ratelimit-Remaining":        {"97"},
			"X-Ratelimit-Reset":            {"1609459202"},
			"X-Ratelimit-Limit-Minute":     {"100"},
			"X-Ratelimit-Remaining-Minute": {"97"},
		}},
		{"per IP after the principal's decision", http.Header{
			"X-Ratelimit-Limit":     {"60"},
			"X-Ratelimit-Remaining": {"59"},
			"X-Ratelimit-Reset":     {"1609459200"},
		}, ip, true, http.Header{
			"X-Ratelimit-Limit":            {"60"},
			"X-Ratelimit-Remaining":        {"59"},
			"X-Ratelimit-Reset":            {"1609459200"},
			"X-Ratelimit-Limit-Minute":     {"100"},
			"X-Ratelimit-Remaining-Minute": {"97"},
		}},
		{"per IP with an hourly window has no -Minute headers", nil, Result{Allowed: true, Limit: 6000, Remaining: 5999, ResetAt: resetAt, Period: time.Hour}, true, http.Header{
			"X-Ratelimit-Limit":     {"6000"},
			"X-Ratelimit-Remaining": {"5999"},
			"X-Ratelimit-Reset":     {"1609459200"},
		}},
		{"other headers are kept", http.Header{"Content-Type": {"application/json"}}, user, false, http.Header{
			"Content-Type":          {"application/json"},
			"X-Ratelimit-Limit":     {"60"},
			"X-Ratelimit-Remaining": {"59"},
			"X-Ratelimit-Reset":     {"1609459200"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.before.Clone()
			if h == nil {
				h = http.Header{}
			}
			WriteHeaders(h, tt.result, tt.perIP)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("headers:\n got %v\nwant %v", h, tt.want)
			}
		})
	}
}

func TestWriteHeadersOrderDoesNotMatter(t *testing.T) {
	user := Result{Allowed: true, Limit: 60, Remaining: 12, ResetAt: time.Unix(1_700_000_000, 0), Period: time.Minute}
	ip := Result{Allowed: true, Limit: 100, Remaining: 40, ResetAt: time.Unix(1_700_000_100, 0), Period: time.Minute}
	principalFirst, ipFirst := http.Header{}, http.Header{}
	WriteHeaders(principalFirst, user, false)
	WriteHeaders(principalFirst, ip, true)
	WriteHeaders(ipFirst, ip, true)
	WriteHeaders(ipFirst, user, false)
	if !reflect.DeepEqual(principalFirst, ipFirst) {
		t.Fatalf("principal first: %v\nIP first: %v", principalFirst, ipFirst)
	}
	if got := ipFirst.Get("X-RateLimit-Remaining"); got != "12" {
		t.Errorf("X-RateLimit-Remaining = %q, want the principal's 12", got)
	}
}

func TestErrorBodies(t *testing.T) {
	tests := []struct {
		name       string
		err        *apierr.Error
		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string
	}{
		{"exceeded", ExceededError(Result{RetryAfter: 1500 * time.Millisecond}), 429, "rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded. Retry after 2 seconds."},
		{"exceeded for a second", ExceededError(Result{RetryAfter: time.Second}), 429, "rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded. Retry after 1 second."},
		{"unavailable", UnavailableError(), 503, "server_error", "rate_limiter_unavailable", "Rate limiting is temporarily unavailable. Please retry shortly."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			apierr.Write(rec, tt.err)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			var body struct {
				Error map[string]string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			want := map[string]string{"message": tt.wantMsg, "type": tt.wantType, "code": tt.wantCode}
			if !reflect.DeepEqual(body.Error, want) {
				t.Errorf("error body %v, want %v", body.Error, want)
			}
		})
	}
}
