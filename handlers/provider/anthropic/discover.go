package anthropic

import (
	"context"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// DiscoverModels asks GET /v1/models which models the key may use. A model
// is served under the public id the model map gives it, else under its own
// name; models of the map that are not listed are kept.
func (p *Provider) DiscoverModels(ctx context.Context) ([]provider.ModelSpec, error) {
	if !p.cfg.DiscoverModels {
		return nil, provider.ErrDiscoveryDisabled
	}
	data, err := upstream.ModelList(ctx, p.client, p.modelsURL, p.header, "Anthropic")
	if err != nil {
		return nil, err
	}
	return upstream.DiscoveredModels(data, p.cfg.ModelMap, p.spec, func(s *provider.ModelSpec, m gjson.Result) {
		s.DisplayName = m.Get("display_name").String()
		if t, err := time.Parse(time.RFC3339, m.Get("created_at").String()); err == nil {
			s.Created = t.Unix()
		}
	}), nil
}
