package openai

import (
	"context"
	"errors"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/jsonguard"
	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// ChatCompletion sends a request without stream and returns the upstream's
// chat.completion with its model set to the public id.
func (p *Provider) ChatCompletion(ctx context.Context, req *provider.Request) (*provider.Completion, error) {
	ctx, wd := provider.NewWatchdog(ctx, p.cfg.FirstByteTimeout)
	defer wd.Stop()
	hreq, err := p.newRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	body, err := upstream.Fetch(ctx, p.client, hreq, wd, p.cfg.IdleTimeout, req.UpstreamModel, req.Model.ID, p.cfg.APIKey)
	if err != nil {
		return nil, err
	}
	// Upstream bytes are bounded like a client's before gjson's recursive
	// validation reads them.
	if !jsonguard.WithinDepth(body) || !gjson.ValidBytes(body) {
		return nil, &provider.Error{Kind: provider.KindServer, Status: http.StatusOK, Err: errors.New("upstream answer is not valid JSON")}
	}
	info, ok := wire.InspectChunk(body)
	if !ok || info.HasError {
		return nil, &provider.Error{Kind: provider.KindServer, Status: http.StatusOK, Err: errors.New("upstream answer is not a chat completion")}
	}
	if !info.ModelIs(body, req.Model.QuotedID()) {
		body = info.Rewrite(make([]byte, 0, len(body)+len(req.Model.QuotedID())), body, req.Model.QuotedID(), false)
	}
	return &provider.Completion{Body: body, Usage: info.Usage, HasUsage: info.HasUsage}, nil
}

// statusError reads the start of an error answer and classifies it. The
// upstream's body is used only for a sanitised message of a client error.
func (p *Provider) statusError(resp *http.Response, req *provider.Request) *provider.Error {
	return provider.ErrorFromStatus(resp.StatusCode, resp.Header, upstream.ReadError(resp.Body),
		req.UpstreamModel, req.Model.ID, p.cfg.APIKey, "[redacted]")
}
