package anthropic

import (
	"context"
	"crypto/tls"
	"testing"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
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
		p, err := New(Config{ID: "anthropic", BaseURL: up.URL, APIKey: "sk-ant-test", ModelMap: map[string]string{"claude": ""}, TLSConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		r, err := provider.NewRouter([]provider.Provider{p}, provider.RouterConfig{})
		if err != nil {
			t.Fatal(err)
		}
		chat, aerr := wire.ParseChatRequest([]byte(body))
		if aerr != nil {
			t.Fatal(aerr.Message)
		}
		m, _ := r.Model("claude")
		_, _, err = r.ChatCompletion(context.Background(), &provider.Request{Body: []byte(body), Chat: chat, Model: m})
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
