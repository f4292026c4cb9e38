package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Metering's metrics on Caddy's metrics endpoint: cost by model and
// provider, the writer's queue, batches and drops; no user or key label.
func TestUsageMetrics(t *testing.T) {
	port, adminPort := freePort(t), freePort(t)
	g := startGateway(t, port, testCaddyfile(t, siteOptions{
		Port:   port,
		Admin:  fmt.Sprintf("localhost:%d", adminPort),
		Global: "metrics",
		LLM: `usage {
			flush_interval 50ms
			price jan-v1-4b 1000 2000
		}`,
		Routes: "llm_auth",
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
	cost := `llm_gateway_cost_total{model="jan-v1-4b",provider="mock"}`
	before := metricValueOrZero(scrape(), cost)
	token := guestToken(t, g)
	r := g.do("POST", "/v1/chat/completions", map[string]any{"model": "jan-v1-4b", "max_tokens": 5,
		"messages": []map[string]any{{"role": "user", "content": "Hello there"}}}, bearerHeader(token)...)
	if r.Status != http.StatusOK {
		t.Fatalf("chat = %d %s", r.Status, r.Body)
	}
	usage, _ := r.JSON(t)["usage"].(map[string]any)
	prompt, _ := usage["prompt_tokens"].(float64)
	completion, _ := usage["completion_tokens"].(float64)
	if prompt <= 0 || completion <= 0 {
		// Without tokens the cost to expect is zero, and a counter that
		// never grows would pass.
		t.Fatalf("chat usage = %v, want prompt and completion tokens", usage)
	}
	want := (prompt*1000 + completion*2000) / 1e6
	var metrics string
	for deadline := time.Now().Add(5 * time.Second); ; {
		metrics = scrape()
		if strings.Contains(metrics, "llm_gateway_usage_write_batch_seconds_count") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := metricValue(t, metrics, cost) - before; got < want*0.999 || got > want*1.001 {
		t.Errorf("cost counter grew by %v, want %v (%v+%v tokens)", got, want, prompt, completion)
	}
	for _, series := range []string{"llm_gateway_usage_write_queue_length", "llm_gateway_usage_records_dropped_total", "llm_gateway_usage_write_errors_total"} {
		metricValue(t, metrics, series)
	}
	if !strings.Contains(metrics, "llm_gateway_usage_write_batch_seconds_count") {
		t.Error("no batch latency histogram")
	}
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "llm_gateway_") && (strings.Contains(line, "user=") || strings.Contains(line, "key=") || strings.Contains(line, "usr_")) {
			t.Errorf("a metric names a user or key: %s", line)
		}
	}
}
