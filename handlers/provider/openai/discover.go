package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"

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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.modelsURL, nil)
	if err != nil {
		return nil, errors.New("building the models request failed")
	}
	req.Header = p.header.Clone()
	req.Header.Del("Content-Type")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, provider.ErrorFromTransport(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, provider.ErrorFromStatus(resp.StatusCode, resp.Header, nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, upstream.MaxListingBytes))
	if err != nil {
		return nil, provider.ErrorFromTransport(ctx, err)
	}
	data := gjson.GetBytes(body, "data")
	if !gjson.ValidBytes(body) || !data.IsArray() {
		return nil, errors.New("the models listing is not an OpenAI model list")
	}

	byUpstream := make(map[string][]string, len(p.cfg.ModelMap))
	for public, upstream := range p.cfg.ModelMap {
		if upstream == "" {
			upstream = public
		}
		byUpstream[upstream] = append(byUpstream[upstream], public)
	}
	var specs []provider.ModelSpec
	listed := make(map[string]bool)
	data.ForEach(func(_, m gjson.Result) bool {
		upstream := m.Get("id").String()
		if upstream == "" {
			return true
		}
		publics := byUpstream[upstream]
		if len(publics) == 0 {
			publics = []string{upstream}
		}
		for _, public := range publics {
			spec := p.spec(public, upstream)
			spec.Created = m.Get("created").Int()
			if owner := m.Get("owned_by").String(); owner != "" && p.cfg.OwnedBy == "" {
				spec.OwnedBy = owner
			}
			spec.ContextLength = firstInt(m, "max_model_len", "context_length", "context_window", "meta.n_ctx_train")
			listed[public] = true
			specs = append(specs, spec)
		}
		return true
	})
	for public, upstream := range p.cfg.ModelMap {
		if !listed[public] {
			specs = append(specs, p.spec(public, upstream))
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].ID < specs[j].ID })
	return specs, nil
}

func firstInt(m gjson.Result, paths ...string) int {
	for _, path := range paths {
		if v := m.Get(path); v.Type == gjson.Number && v.Int() > 0 {
			return int(v.Int())
		}
	}
	return 0
}
