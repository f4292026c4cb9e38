// Package anthropic is the provider for Anthropic's Messages API. It
// translates OpenAI chat completions to Messages requests (system prompt,
// messages, max_tokens, stop, tools and tool results) and Messages answers
// and stream events back to chat completions and chunks (text, tool calls,
// usage, finish reasons).
package anthropic

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// Kind is the provider kind.
const Kind = "anthropic"

// Defaults.
const (
	DefaultBaseURL       = "https://api.anthropic.com"
	DefaultVersion       = "2023-06-01"
	DefaultMaxTokens     = 4096
	DefaultOwnedBy       = "anthropic"
	defaultContextLength = 200000
)

// Config configures the Anthropic upstream.
type Config struct {
	// ID names this provider instance; model deployments refer to it. It is
	// required and must be unique among the gateway's providers.
	ID string
	// Name is the display name shown by /v1/models/providers; empty means
	// ID.
	Name string
	// BaseURL is the API root, default "https://api.anthropic.com"; the
	// provider calls BaseURL + "/v1/messages" (a BaseURL ending in /v1 is
	// taken as it is). Never shown or logged.
	BaseURL string
	// APIKey is sent in the x-api-key header.
	APIKey string
	// Version is the anthropic-version header. Default "2023-06-01".
	Version string
	// Headers are added to every upstream request (for example
	// "anthropic-beta").
	Headers map[string]string
	// ModelMap maps the public model ids this provider serves to
	// Anthropic's model names ("claude" → "claude-sonnet-4-5"). An empty
	// name means the public id.
	ModelMap map[string]string
	// OwnedBy is the owned_by of this provider's models. Default
	// "anthropic".
	OwnedBy string
	// DefaultMaxTokens is the max_tokens sent when the client gives none
	// (Anthropic requires one). Default 4096.
	DefaultMaxTokens int
	// DiscoverModels makes the router ask GET /v1/models for the models the
	// key may use, at start and periodically.
	DiscoverModels bool
	// ConnectTimeout, FirstByteTimeout, IdleTimeout and MaxIdleConnsPerHost
	// are as for the OpenAI-compatible provider: defaults 10s, 120s, 60s
	// and 512. There is no bound on the total length of a healthy stream.
	ConnectTimeout      time.Duration
	FirstByteTimeout    time.Duration
	IdleTimeout         time.Duration
	MaxIdleConnsPerHost int
	// TLSConfig is the TLS client configuration for an https upstream:
	// trusted CAs for an upstream behind a private CA, a client certificate
	// for one that requires mTLS, the server name to verify. Nil means Go's
	// defaults (the system's roots, no client certificate).
	TLSConfig *tls.Config
	// Transport replaces the tuned transport, for tests or a shared pool.
	Transport http.RoundTripper
}

// Provider is the Anthropic upstream. It is safe for concurrent use.
type Provider struct {
	cfg         Config
	info        provider.Info
	client      *http.Client
	transport   *http.Transport
	messagesURL string
	modelsURL   string
	header      http.Header // never logged
}

// New returns a provider for cfg. It does not contact the upstream.
func New(cfg Config) (*Provider, error) {
	if cfg.ID == "" {
		return nil, errors.New("creating anthropic provider: id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.OwnedBy == "" {
		cfg.OwnedBy = DefaultOwnedBy
	}
	if cfg.DefaultMaxTokens <= 0 {
		cfg.DefaultMaxTokens = DefaultMaxTokens
	}
	if cfg.FirstByteTimeout <= 0 {
		cfg.FirstByteTimeout = provider.DefaultFirstByteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = provider.DefaultIdleTimeout
	}
	base, err := upstream.ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("creating anthropic provider %s: %w", cfg.ID, err)
	}
	prefix := "v1/"
	if strings.HasSuffix(strings.TrimSuffix(base.Path, "/"), "/v1") {
		prefix = ""
	}
	p := &Provider{
		cfg:         cfg,
		info:        provider.Info{ID: cfg.ID, Name: cfg.Name, Kind: Kind},
		messagesURL: upstream.Endpoint(base, prefix+"messages"),
		modelsURL:   modelsURL(base, prefix),
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
		p.header.Set("X-Api-Key", cfg.APIKey)
	}
	p.header.Set("Anthropic-Version", cfg.Version)
	return p, nil
}

// modelsURL is the models listing, asking for every model in one page.
func modelsURL(base *url.URL, prefix string) string {
	u, err := url.Parse(upstream.Endpoint(base, prefix+"models"))
	if err != nil {
		return upstream.Endpoint(base, prefix+"models")
	}
	q := u.Query()
	q.Set("limit", "1000")
	u.RawQuery = q.Encode()
	return u.String()
}

// Info names the provider.
func (p *Provider) Info() provider.Info { return p.info }

// Models returns the models of the configuration's model map.
func (p *Provider) Models() []provider.ModelSpec {
	specs := make([]provider.ModelSpec, 0, len(p.cfg.ModelMap))
	for public, name := range p.cfg.ModelMap {
		specs = append(specs, p.spec(public, name))
	}
	return specs
}

func (p *Provider) spec(public, name string) provider.ModelSpec {
	if name == "" {
		name = public
	}
	return provider.ModelSpec{
		ID:            public,
		UpstreamID:    name,
		OwnedBy:       p.cfg.OwnedBy,
		ContextLength: defaultContextLength,
		Capabilities:  provider.Capabilities{Streaming: true, Tools: true, Vision: true, VisionKnown: true},
	}
}

// Close closes the provider's idle upstream connections.
func (p *Provider) Close() error {
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	return nil
}

// newRequest translates req and builds the upstream request.
func (p *Provider) newRequest(ctx context.Context, req *provider.Request, stream bool) (*http.Request, *wire.ChatCompletionRequest, error) {
	chat, err := wire.DecodeChatRequest(req.Body)
	if err != nil {
		return nil, nil, &provider.Error{Kind: provider.KindBadRequest, Message: "the request could not be decoded", Err: err}
	}
	maxTokens := chat.OutputLimit()
	if maxTokens == 0 {
		maxTokens = p.cfg.DefaultMaxTokens
		if m := req.Model.MaxOutputTokens; m > 0 && m < maxTokens {
			maxTokens = m
		}
	}
	body, err := translateRequest(chat, req.UpstreamModel, maxTokens, stream)
	if err != nil {
		return nil, nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.messagesURL, bytes.NewReader(body))
	if err != nil {
		return nil, nil, &provider.Error{Kind: provider.KindServer, Err: errors.New("building the upstream request failed")}
	}
	hreq.Header = p.header.Clone()
	if stream {
		hreq.Header["Accept"] = []string{"text/event-stream"}
	} else {
		hreq.Header["Accept"] = []string{"application/json"}
	}
	upstream.SetTrace(hreq.Header, req)
	return hreq, chat, nil
}
