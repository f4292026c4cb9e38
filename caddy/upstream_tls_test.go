package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// A provider whose upstream is behind a private CA and requires a client
// certificate is configured with the tls_* options of reverse_proxy's
// `transport http` block: through a real Caddy the chat reaches the
// upstream only with both the trust pool and the client certificate
// configured, and is a 502 otherwise.
func TestUpstreamTLSThroughCaddy(t *testing.T) {
	serverCA := providertest.NewCA(t, "upstream CA")
	clientCA := providertest.NewCA(t, "client CA")
	clientCert := clientCA.ClientCert(t, "gateway")
	caFile, certFile, keyFile := serverCA.WriteFiles(t, t.TempDir(), &clientCert)
	up := providertest.NewTLSUpstream(t, &providertest.OpenAIServer{Reply: "Hello over mTLS"}, serverCA, clientCA)

	port := freePort(t)
	config := func(tlsOptions string) string {
		return testCaddyfile(t, siteOptions{
			Port: port,
			LLM: fmt.Sprintf(`provider private openai {
			base_url %s/v1
			model_map private-model upstream-model
			%s
		}`, up.URL, tlsOptions),
			Routes: "llm_auth",
		})
	}
	chat := func(g *gateway, token string) response {
		t.Helper()
		return g.do("POST", "/v1/chat/completions",
			`{"model":"private-model","messages":[{"role":"user","content":"Hi"}]}`,
			"Authorization", "Bearer "+token)
	}

	trustAndCert := fmt.Sprintf("tls_trust_pool file %s\n\t\t\ttls_client_auth %s %s\n\t\t\ttls_server_name localhost", caFile, certFile, keyFile)
	g := startGateway(t, port, config(trustAndCert))
	token := guestToken(t, g)
	r := chat(g, token)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Hello over mTLS") {
		t.Fatalf("with trust pool and client certificate: %d %s", r.Status, r.Body)
	}
	if got := up.Last(t).JSON(t)["model"]; got != "upstream-model" {
		t.Errorf("upstream model %v", got)
	}
	served := len(up.Requests())

	for _, tt := range []struct{ name, options string }{
		{"no TLS options (system roots)", ""},
		{"trust pool without client certificate", "tls_trust_pool file " + caFile},
		{"client certificate without trust pool", fmt.Sprintf("tls_client_auth %s %s", certFile, keyFile)},
	} {
		loadConfig(t, config(tt.options))
		g.waitReady()
		wantError(t, chat(g, guestToken(t, g)), http.StatusBadGateway, "upstream_unavailable")
		if n := len(up.Requests()); n != served {
			t.Errorf("%s: the upstream served %d requests it should have refused", tt.name, n-served)
		}
	}

	// TLS settings for a plain-HTTP upstream are a configuration error,
	// not silently unused.
	plain := strings.Replace(config("tls_trust_pool file "+caFile), up.URL, "http://127.0.0.1:9", 1)
	if err := caddy.Load(adapt(t, plain), true); err == nil || !strings.Contains(err.Error(), "http:// base_url") {
		t.Errorf("loading TLS options for an http:// upstream: err = %v", err)
	}
}
