package anthropic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
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
		return nil, errors.New("the models listing is not an Anthropic model list")
	}
	byName := make(map[string][]string, len(p.cfg.ModelMap))
	for public, name := range p.cfg.ModelMap {
		if name == "" {
			name = public
		}
		byName[name] = append(byName[name], public)
	}
	var specs []provider.ModelSpec
	listed := make(map[string]bool)
	data.ForEach(func(_, m gjson.Result) bool {
		name := m.Get("id").String()
		if name == "" {
			return true
		}
		publics := byName[name]
		if len(publics) == 0 {
			publics = []string{name}
		}
		for _, public := range publics {
			spec := p.spec(public, name)
			spec.DisplayName = m.Get("display_name").String()
			if t, err := time.Parse(time.RFC3339, m.Get("created_at").String()); err == nil {
				spec.Created = t.Unix()
			}
			listed[public] = true
			specs = append(specs, spec)
		}
		return true
	})
	for public, name := range p.cfg.ModelMap {
		if !listed[public] {
			specs = append(specs, p.spec(public, name))
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].ID < specs[j].ID })
	return specs, nil
}
