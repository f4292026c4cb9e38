package openai

import (
	"context"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// DiscoverModels asks the upstream's GET /models which models it serves. A
// discovered model is served under the public id the model map gives its
// upstream name, else under that name; models of the map the upstream does
// not list are kept (the configuration asked for them). vLLM's max_model_len
// and llama.cpp's n_ctx_train fill the catalog's context length.
func (p *Provider) DiscoverModels(ctx context.Context) ([]provider.ModelSpec, error) {
	if !p.cfg.DiscoverModels {
		return nil, provider.ErrDiscoveryDisabled
	}
	data, err := upstream.ModelList(ctx, p.client, p.modelsURL, p.header, "OpenAI")
	if err != nil {
		return nil, err
	}
	return upstream.DiscoveredModels(data, p.cfg.ModelMap, p.spec, func(s *provider.ModelSpec, m gjson.Result) {
		s.Created = m.Get("created").Int()
		if owner := m.Get("owned_by").String(); owner != "" && p.cfg.OwnedBy == "" {
			s.OwnedBy = owner
		}
		s.ContextLength = firstInt(m, "max_model_len", "context_length", "context_window", "meta.n_ctx_train")
	}), nil
}

func firstInt(m gjson.Result, paths ...string) int {
	for _, path := range paths {
		if v := m.Get(path); v.Type == gjson.Number && v.Int() > 0 {
			return int(v.Int())
		}
	}
	return 0
}
