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
		Site:   fmt.Sprintf("log {\n\t\toutput file %s\n\t\tformat json\n\t}", accessLog),
		Routes: "llm_auth\n\t\tllm_rate_limit /v1/chat/completions {\n\t\t\tguest 3/min\n\t\t}",
	}))
	token := guestToken(t, g)
	chat := map[string]any{"model": "jan-v1-4b", "max_tokens": 5, "messages": []map[string]any{{"role": "user", "content": "Hello there"}}}
	for i := 0; i < 4; i++ { // the 4th is refused by the 3/min tier
		g.do("POST", "/v1/chat/completions", chat, "Authorization", "Bearer "+token)
	}
	g.do("POST", "/v1/chat/completions", map[string]any{"model": "nope", "messages": chat["messages"]}, "Authorization", "Bearer "+token)

	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(body)
	for series, want := range map[string]float64{
		`llm_gateway_chat_requests_total{model="jan-v1-4b",provider="mock",status="200",stream="false"}`: 3,
		`llm_gateway_tokens_total{direction="completion",model="jan-v1-4b",provider="mock"}`:             15,
		`llm_gateway_rate_limit_decisions_total{decision="allowed",limit="principal"}`:                   3,
		`llm_gateway_rate_limit_decisions_total{decision="refused",limit="principal"}`:                   1,
	} {
		if got := metricValue(t, metrics, series); got < want {
			// Counters are process-wide: earlier tests may have added to
			// them, never taken away.
			t.Errorf("%s = %v, want at least %v", series, got, want)
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
