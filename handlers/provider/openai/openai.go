// Package openai is the provider for any OpenAI-compatible server: vLLM,
// llama.cpp, OpenAI itself, and the many others that speak the chat
// completions API. It forwards the client's raw body, patching only the
// top-level members that must change, and relays stream chunks as bytes.
package openai

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// Kind is the provider kind.
const Kind = "openai"

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config configures one OpenAI-compatible upstream.
type Config struct {
	// ID names this provider instance; model deployments refer to it. It is
	// required and must be unique among the gateway's providers.
	ID string
	// Name is the display name shown by /v1/models/providers; empty means
	// ID.
	Name string
	// BaseURL is the API root including its version path, as the OpenAI
	// SDKs take it: "https://api.openai.com/v1" (the default),
	// "http://127.0.0.1:8000/v1" for vLLM, "http://127.0.0.1:8080/v1" for
	// llama.cpp. User info in it is sent as basic authentication and a query
	// is kept on every request (for example Azure's api-version); neither is
	// ever shown or logged.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>" when set.
	APIKey string
	// Headers are added to every upstream request, for example
	// "OpenAI-Organization" or Azure's "api-key".
	Headers map[string]string
	// ModelMap maps the public model ids this provider serves to the
	// upstream's names for them ("jan-v1-4b" → "janhq/Jan-v1-4B"). An empty
	// name means the public id.
	ModelMap map[string]string
	// OwnedBy is the owned_by of this provider's models in /v1/models;
	// empty means ID.
	OwnedBy string
	// DiscoverModels makes the router ask the upstream's GET /models for the
	// models it serves, at start and periodically. Discovered models are
	// served under the public id that ModelMap gives their upstream name, or
	// else under the upstream name itself.
	DiscoverModels bool
	// ConnectTimeout bounds dialing and the TLS handshake. Default 10s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the upstream's first event of a
	// stream, or for its whole answer to a request without stream (an
	// upstream sends nothing before it has finished such an answer, so this
	// also bounds its length; clients expecting long answers should
	// stream). Default 120s.
	FirstByteTimeout time.Duration
	// IdleTimeout bounds the silence between two events of a stream. There
	// is no bound on the total length of a healthy stream. Default 60s.
	IdleTimeout time.Duration
	// MaxIdleConnsPerHost is the number of idle upstream connections kept
	// for reuse. Default 512.
	MaxIdleConnsPerHost int
	// TLSConfig is the TLS client configuration for an https upstream:
	// trusted CAs for an upstream behind a private CA, a client certificate
	// for one that requires mTLS, the server name to verify. Nil means Go's
	// defaults (the system's roots, no client certificate).
	TLSConfig *tls.Config
	// Transport replaces the tuned transport built from the settings above,
	// for tests or a shared pool. Nil builds one.
	Transport http.RoundTripper
}

// Provider is an OpenAI-compatible upstream. It is safe for concurrent use.
type Provider struct {
	cfg       Config
	info      provider.Info
	client    *http.Client
	transport *http.Transport // nil when the caller supplied Transport
	chatURL   string
	modelsURL string
	// embeddingsURL is POST …/embeddings (embeddings.go).
	embeddingsURL string
	header        http.Header // sent with every request; never logged
}

// New returns a provider for cfg. It does not contact the upstream.
func New(cfg Config) (*Provider, error) {
	if cfg.ID == "" {
		return nil, errors.New("creating openai provider: id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.FirstByteTimeout <= 0 {
		cfg.FirstByteTimeout = provider.DefaultFirstByteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = provider.DefaultIdleTimeout
	}
	base, err := upstream.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("creating openai provider %s: %w", cfg.ID, err)
	}
	p := &Provider{
		cfg:       cfg,
		info:      provider.Info{ID: cfg.ID, Name: cfg.Name, Kind: Kind},
		chatURL:   upstream.Endpoint(base, "chat/completions"),
		modelsURL: upstream.Endpoint(base, "models"),

		embeddingsURL: upstream.Endpoint(base, "embeddings"),
	}
	if p.info.Name == "" {
		p.info.Name = cfg.ID
	}
	p.client, p.transport, p.header = upstream.NewHTTP(cfg.Transport, provider.TransportConfig{
		ConnectTimeout:      cfg.ConnectTimeout,
		FirstByteTimeout:    cfg.FirstByteTimeout,
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost,
		TLSConfig:           cfg.TLSConfig,
	}, cfg.Headers)
	if cfg.APIKey != "" {
		p.header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	return p, nil
}

// Info names the provider.
func (p *Provider) Info() provider.Info { return p.info }

// Models returns the models of the configuration's model map.
func (p *Provider) Models() []provider.ModelSpec {
	specs := make([]provider.ModelSpec, 0, len(p.cfg.ModelMap))
	for public, upstream := range p.cfg.ModelMap {
		specs = append(specs, p.spec(public, upstream))
	}
	return specs
}

func (p *Provider) spec(public, upstream string) provider.ModelSpec {
	owner := p.cfg.OwnedBy
	if owner == "" {
		owner = p.cfg.ID
	}
	if upstream == "" {
		upstream = public
	}
	return provider.ModelSpec{
		ID:           public,
		UpstreamID:   upstream,
		OwnedBy:      owner,
		Capabilities: provider.Capabilities{Streaming: true, Tools: true},
	}
}

// Close closes the provider's idle upstream connections.
func (p *Provider) Close() error {
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	return nil
}

// newRequest builds the upstream request for req.
func (p *Provider) newRequest(ctx context.Context, req *provider.Request) (*http.Request, error) {
	body := req.Chat.UpstreamBody(req.Body, req.UpstreamModel)
	// A bytes.Reader gives the request its length and GetBody (HTTP/2 may
	// replay the body on a new connection).
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.chatURL, bytes.NewReader(body))
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: errors.New("building the upstream request failed")}
	}
	hreq.Header = p.header.Clone()
	if req.Chat.Stream {
		hreq.Header["Accept"] = acceptEventStream
	} else {
		hreq.Header["Accept"] = acceptJSON
	}
	upstream.SetTrace(hreq.Header, req)
	return hreq, nil
}

var (
	acceptEventStream = []string{"text/event-stream"}
	acceptJSON        = []string{"application/json"}
)
