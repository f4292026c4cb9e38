package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// ModelList fetches an upstream's model listing (GET url, with header) and
// returns its "data" array. vendor names the listing's format in the error
// of a body that is not one.
func ModelList(ctx context.Context, client *http.Client, url string, header http.Header, vendor string) (gjson.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return gjson.Result{}, errors.New("building the models request failed")
	}
	req.Header = header.Clone()
	req.Header.Del("Content-Type")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return gjson.Result{}, provider.ErrorFromTransport(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return gjson.Result{}, provider.ErrorFromStatus(resp.StatusCode, resp.Header, nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxListingBytes))
	if err != nil {
		return gjson.Result{}, provider.ErrorFromTransport(ctx, err)
	}
	data := gjson.GetBytes(body, "data")
	if !jsonguard.WithinDepth(body) || !gjson.ValidBytes(body) || !data.IsArray() {
		return gjson.Result{}, errors.New("the models listing is not an " + vendor + " model list")
	}
	return data, nil
}

// DiscoveredModels turns a listing into the models a provider serves. A
// listed model is served under the public ids the model map gives its
// upstream name, else under that name; models of the map the listing lacks
// are kept (the configuration asked for them). spec builds a model's
// configured entry and fill adds what the listing says of it.
func DiscoveredModels(data gjson.Result, modelMap map[string]string,
	spec func(public, upstream string) provider.ModelSpec,
	fill func(s *provider.ModelSpec, listed gjson.Result)) []provider.ModelSpec {
	byUpstream := make(map[string][]string, len(modelMap))
	for public, upstream := range modelMap {
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
			s := spec(public, upstream)
			fill(&s, m)
			listed[public] = true
			specs = append(specs, s)
		}
		return true
	})
	for public, upstream := range modelMap {
		if !listed[public] {
			specs = append(specs, spec(public, upstream))
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].ID < specs[j].ID })
	return specs
}
