package openai

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// TestUpstreamTLS checks that an upstream behind a private CA, and one that
// requires a client certificate, are reached only with the TLS settings
// they need, and that a refused handshake is a connect error (502
// upstream_unavailable, and the next deployment is tried), not an answer.
func TestUpstreamTLS(t *testing.T) {
	serverCA := providertest.NewCA(t, "upstream CA")
	clientCA := providertest.NewCA(t, "client CA")
	otherCA := providertest.NewCA(t, "someone else's CA")
	clientCert := clientCA.ClientCert(t, "gateway")
	strangerCert := otherCA.ClientCert(t, "stranger")

	private := providertest.NewTLSUpstream(t, &providertest.OpenAIServer{Reply: "over TLS"}, serverCA, nil)
	mutual := providertest.NewTLSUpstream(t, &providertest.OpenAIServer{Reply: "over mTLS"}, serverCA, clientCA)

	tests := []struct {
		name  string
		up    *providertest.Upstream
		tls   *tls.Config
		reply string // empty: the attempt must fail
	}{
		{"private CA, system roots", private, nil, ""},
		{"private CA, wrong CA trusted", private, &tls.Config{RootCAs: otherCA.Pool()}, ""},
		{"private CA trusted", private, &tls.Config{RootCAs: serverCA.Pool()}, "over TLS"},
		{"mTLS, no client certificate", mutual, &tls.Config{RootCAs: serverCA.Pool()}, ""},
		{"mTLS, certificate of another CA", mutual, &tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{strangerCert}}, ""},
		{"mTLS, client certificate", mutual, &tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{clientCert}}, "over mTLS"},
		{"server name of the certificate", private, &tls.Config{RootCAs: serverCA.Pool(), ServerName: "localhost"}, "over TLS"},
		{"server name mismatch", private, &tls.Config{RootCAs: serverCA.Pool(), ServerName: "vllm.internal"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.up.Requests())
			_, r, req := route(t, Config{
				ID:        "vllm",
				BaseURL:   tt.up.URL + "/v1",
				ModelMap:  map[string]string{"jan-v1-4b": ""},
				TLSConfig: tt.tls,
			}, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`)
			c, _, err := r.ChatCompletion(context.Background(), req)
			if tt.reply == "" {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Kind != provider.KindConnect {
					t.Fatalf("err = %v, want a connect error (a refused handshake)", err)
				}
				if n := len(tt.up.Requests()); n != before {
					t.Errorf("the upstream received %d requests over a connection it should have refused", n-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want the upstream's answer", err)
			}
			var got struct {
				Choices []struct {
					Message struct {
						Content string `json:"content"`
					} `json:"message"`
				} `json:"choices"`
			}
			if err := jsonUnmarshal(c.Body, &got); err != nil || len(got.Choices) != 1 || got.Choices[0].Message.Content != tt.reply {
				t.Errorf("answer = %s, want %q", c.Body, tt.reply)
			}
		})
	}
}
