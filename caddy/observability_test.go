package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// After traffic, Caddy's metrics endpoint counts the gateway's requests by
// model, provider and status, their tokens, and the rate limiter's
// decisions; the access log carries model, principal and token counts.
func TestMetricsAndAccessLog(t *testing.T) {
	port, adminPort := freePort(t), freePort(t)
	accessLog := filepath.Join(t.TempDir(), "access.log")
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:   port,
		Admin:  fmt.Sprintf("localhost:%d", adminPort),
		Global: "metrics",
		Site:   fmt.Sprintf("log {\n\t\toutput file %s\n\t\tformat filter {\n\t\t\twrap json\n\t\t\trequest>headers>X-Api-Key delete\n\t\t}\n\t}", accessLog),
		Routes: "llm_auth\n\t\tllm_rate_limit /v1/chat/completions {\n\t\t\tname metrics_test\n\t\t\tguest 3/min\n\t\t}",
	}))
	scrape := func() string {
		resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// Counters are process-wide (they survive reloads): compare the counts
	// before and after this test's traffic.
	want := map[string]float64{
		`llm_gateway_chat_requests_total{model="jan-v1-4b",provider="mock",status="200",stream="false"}`: 3,
		`llm_gateway_tokens_total{direction="completion",model="jan-v1-4b",provider="mock"}`:             15,
		`llm_gateway_rate_limit_decisions_total{decision="allowed",limit="metrics_test"}`:                3,
		`llm_gateway_rate_limit_decisions_total{decision="refused",limit="metrics_test"}`:                2, // the 4th and the unknown model
	}
	before := scrape()
	token := guestToken(t, g)
	chat := map[string]any{"model": "jan-v1-4b", "max_tokens": 5, "messages": []map[string]any{{"role": "user", "content": "Hello there"}}}
	for i, status := range []int{200, 200, 200, 429} { // the 4th is refused by the 3/min tier
		if r := g.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+token); r.Status != status {
			t.Fatalf("chat %d = %d, want %d", i+1, r.Status, status)
		}
	}
	wantError(t, g.do("POST", "/v1/chat/completions", map[string]any{"model": "nope", "messages": chat["messages"]},
		"Authorization", "Bearer "+token), http.StatusTooManyRequests, "rate_limit_exceeded")

	metrics := scrape()
	for series, delta := range want {
		if got := metricValue(t, metrics, series) - metricValueOrZero(before, series); got != delta {
			t.Errorf("%s went up by %v, want %v", series, got, delta)
		}
	}
	if !strings.Contains(metrics, "llm_gateway_time_to_first_token_seconds_bucket") {
		t.Error("no time-to-first-token histogram")
	}

	// The access log has the chat requests with their model and tokens.
	var found bool
	waitFor(t, 5*time.Second, func() (bool, bool) {
		f, err := os.Open(accessLog)
		if err != nil {
			return false, false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var entry map[string]any
			if json.Unmarshal(sc.Bytes(), &entry) != nil {
				continue
			}
			req, _ := entry["request"].(map[string]any)
			if req["uri"] != "/v1/chat/completions" || entry["status"] != float64(200) {
				continue
			}
			if entry["llm_model"] == "jan-v1-4b" && entry["llm_completion_tokens"] == float64(5) &&
				strings.HasPrefix(fmt.Sprint(entry["user_id"]), "usr_") {
				found = true
			}
		}
		return found, found
	})
}

// metricValueOrZero is metricValue for a series that may not exist yet.
func metricValueOrZero(text, series string) float64 {
	if !strings.Contains(text, series+" ") {
		return 0
	}
	var v float64
	fmt.Sscan(text[strings.Index(text, series+" ")+len(series)+1:], &v)
	return v
}

// metricValue returns the value of one series in Prometheus' text format.
func metricValue(t testing.TB, text, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Errorf("no series %s in the metrics", series)
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
