package anthropic

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// TestUpstreamTLS checks that the Anthropic provider uses its TLS settings:
// an upstream behind a private CA that requires a client certificate is
// reached with both configured, and refused without the certificate.
func TestUpstreamTLS(t *testing.T) {
	serverCA := providertest.NewCA(t, "upstream CA")
	clientCA := providertest.NewCA(t, "client CA")
	up := providertest.NewTLSUpstream(t, &providertest.AnthropicServer{Reply: "Bonjour"}, serverCA, clientCA)
	body := `{"model":"claude","messages":[{"role":"user","content":"Hi"}]}`

	for _, withCert := range []bool{false, true} {
		cfg := &tls.Config{RootCAs: serverCA.Pool()}
		if withCert {
			cfg.Certificates = []tls.Certificate{clientCA.ClientCert(t, "gateway")}
		}
		r, req := routeConfig(t, Config{ID: "anthropic", BaseURL: up.URL, APIKey: "sk-ant-test", ModelMap: map[string]string{"claude": ""}, TLSConfig: cfg}, body)
		_, _, err := r.ChatCompletion(context.Background(), req)
		if withCert && err != nil {
			t.Errorf("with the client certificate: %v", err)
		}
		if !withCert && err == nil {
			t.Error("without a client certificate the upstream answered")
		}
	}
	if n := len(up.Requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want 1 (over the authenticated connection)", n)
	}
}
