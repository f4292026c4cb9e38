package main

// OTEL_ENABLED=true turns tracing on in the default Caddyfile, with no edit:
// a span per request, exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT
// as OTEL_SERVICE_NAME, and the trace propagated to the model provider.

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps the spans it gets.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    int
	traceIDs map[string]bool
	services map[string]bool
	bad      []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{traceIDs: map[string]bool{}, services: map[string]bool{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		var req collectortrace.ExportTraceServiceRequest
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if r.URL.Path != "/v1/traces" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-protobuf") {
			rc.bad = append(rc.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusNotFound)
			return
		}
		if err := proto.Unmarshal(body, &req); err != nil {
			rc.bad = append(rc.bad, "undecodable export: "+err.Error())
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					rc.services[kv.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					rc.spans++
					rc.traceIDs[hex.EncodeToString(s.GetTraceId())] = true
				}
			}
		}
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *otlpReceiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.spans
}

func TestOTELEnabledTracesRequestsAndPropagatesUpstream(t *testing.T) {
	// One upstream for both runs: the providers' pool keeps a provider
	// whose config text did not change, and {env.INFERENCE_BASE_URL} is
	// the same text in both.
	upstream := providertest.NewUpstream(t, &providertest.OpenAIServer{Reply: "traced reply", Models: []string{"served-a"}})
	for _, enabled := range []bool{true, false} {
		name := "off"
		if enabled {
			name = "on"
		}
		t.Run(name, func(t *testing.T) {
			rc := newOTLPReceiver(t)
			seen := len(upstream.Requests())
			env := []string{
				"OTEL_EXPORTER_OTLP_ENDPOINT", rc.URL,
				"OTEL_SERVICE_NAME", "jan-gateway-under-test",
				"OTEL_BSP_SCHEDULE_DELAY", "100",
				"INFERENCE_BASE_URL", upstream.URL + "/v1",
				"OTEL_ENABLED", "false",
			}
			if enabled {
				env[len(env)-1] = "true"
			}
			g, _ := startDefaultGateway(t, env...)
			waitForModel(t, g, "served-a")
			token := guestToken(t, g)
			for _, stream := range []bool{false, true} {
				r := g.do("POST", "/v1/chat/completions", map[string]any{
					"model": "served-a", "stream": stream,
					"messages": []map[string]string{{"role": "user", "content": "Hi"}},
				}, bearerHeader(token)...)
				if r.Status != http.StatusOK {
					t.Fatalf("chat (stream %v) = %d %s", stream, r.Status, r.Body)
				}
			}
			wantUnauthorized(t, g.do("GET", "/v1/models", nil), "missing_credentials")

			var chats []providertest.Recorded
			for _, req := range upstream.Requests()[seen:] {
				if strings.HasSuffix(req.Path, "/chat/completions") {
					chats = append(chats, req)
				}
			}
			if len(chats) != 2 {
				t.Fatalf("upstream saw %d chat requests, want 2", len(chats))
			}
			if !enabled {
				for _, c := range chats {
					if tp := c.Header.Get("Traceparent"); tp != "" {
						t.Fatalf("tracing off, yet the upstream got traceparent %q", tp)
					}
				}
				time.Sleep(500 * time.Millisecond) // five export intervals
				if n := rc.count(); n != 0 {
					t.Fatalf("tracing off, yet %d spans were exported", n)
				}
				return
			}

			// Every request above is a span: health checks of waitForModel,
			// guest login, models, two chats and the 401.
			deadline := time.Now().Add(10 * time.Second)
			for rc.count() < 5 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.bad) > 0 {
				t.Fatalf("the receiver got unexpected requests: %v", rc.bad)
			}
			if rc.spans < 5 {
				t.Fatalf("%d spans exported, want at least 5 (one per request)", rc.spans)
			}
			if !rc.services["jan-gateway-under-test"] || len(rc.services) != 1 {
				t.Fatalf("service names %v, want OTEL_SERVICE_NAME", rc.services)
			}
			for _, c := range chats {
				tp := c.Header.Get("Traceparent")
				parts := strings.Split(tp, "-")
				if len(parts) != 4 || len(parts[1]) != 32 {
					t.Fatalf("upstream got traceparent %q, want a W3C trace context", tp)
				}
				if !rc.traceIDs[parts[1]] {
					t.Fatalf("upstream's trace id %s is not one of the exported spans' %v", parts[1], rc.traceIDs)
				}
			}
		})
	}
}
