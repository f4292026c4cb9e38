package chat_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
)

// toolPolicy answers enable_tools for every user.
type toolPolicy struct {
	enabled bool
	err     error
	asked   int
}

func (p *toolPolicy) ToolsEnabled(context.Context, int64) (bool, error) {
	p.asked++
	return p.enabled, p.err
}

func TestSamplingDefaultsAndToolPolicy(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	policy := &toolPolicy{enabled: false}
	half := 0.5
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL)}, provider.RouterConfig{Models: []provider.ModelConfig{
		{ID: "custom", Deployments: []provider.DeploymentConfig{{Provider: "up"}}, Sampling: provider.SamplingConfig{NoTemperature: true, TopP: &half}},
	}}, func(h *chat.Handler) { h.Tools = policy })

	const tools = `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","parallel_tool_calls":false`
	tests := []struct {
		name, body string
		want       map[string]any // members the upstream must get; nil values must be absent
		asked      int            // how often the policy was asked, in total
	}{
		{"spec defaults", `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]}`,
			map[string]any{"temperature": 0.7, "top_p": 1.0, "model": "janhq/Jan-v1-4B"}, 0},
		{"client values", `{"model":"jan-v1-4b","temperature":0,"top_p":0.1,"messages":[{"role":"user","content":"Hi"}]}`,
			map[string]any{"temperature": 0.0, "top_p": 0.1}, 0},
		{"model defaults", `{"model":"custom","messages":[{"role":"user","content":"Hi"}]}`,
			map[string]any{"temperature": nil, "top_p": 0.5}, 0},
		{"tools off", `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]` + tools + `}`,
			map[string]any{"tools": nil, "tool_choice": nil, "parallel_tool_calls": nil, "temperature": 0.7}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := g.post(t, tt.body); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := up.Last(t).JSON(t)
			for k, v := range tt.want {
				if gv, ok := got[k]; v == nil && ok || v != nil && gv != v {
					t.Errorf("upstream %s = %v, want %v", k, gv, v)
				}
			}
			if policy.asked != tt.asked {
				t.Errorf("the policy was asked %d times, want %d", policy.asked, tt.asked)
			}
		})
	}
	// Tools on, and the policy failing (database down): tools are sent.
	for _, p := range []toolPolicy{{enabled: true}, {err: errors.New("database down")}} {
		*policy = p
		if resp := g.post(t, `{"model":"jan-v1-4b","messages":[{"role":"user","content":"Hi"}]`+tools+`}`); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := up.Last(t).JSON(t); got["tools"] == nil || got["tool_choice"] != "auto" {
			t.Errorf("policy %+v: upstream got tools %v tool_choice %v", p, got["tools"], got["tool_choice"])
		}
	}
}

func TestImagesRefusedForModelsWithoutVision(t *testing.T) {
	up := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	no, yes := false, true
	g := newGateway(t, []provider.Provider{openAIProvider(t, "up", up.URL), mockProvider(t, mock.Config{Models: []string{"mock-model"}})}, provider.RouterConfig{Models: []provider.ModelConfig{
		{ID: "text-only", Deployments: []provider.DeploymentConfig{{Provider: "up"}}, Vision: &no},
		{ID: "sees", Deployments: []provider.DeploymentConfig{{Provider: "up"}}, Vision: &yes},
		{ID: "unknown", Deployments: []provider.DeploymentConfig{{Provider: "up"}}},
	}})
	image := func(model string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"look"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://e.example/cat.png"}}]}]}`
	}
	for _, model := range []string{"text-only", "mock-model"} {
		resp := g.post(t, image(model))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", model, resp.StatusCode)
		}
		if e := decodeError(t, resp.Body); e.Error.Code != "invalid_value" || e.Error.Param != "messages[1].content[1]" {
			t.Errorf("%s: error %+v", model, e.Error)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("a refused request reached the upstream (%d)", n)
	}
	for _, model := range []string{"sees", "unknown"} {
		if resp := g.post(t, image(model)); resp.StatusCode != 200 {
			t.Errorf("%s: status %d, want 200", model, resp.StatusCode)
		}
	}
	if resp := g.post(t, `{"model":"text-only","messages":[{"role":"user","content":"no image"}]}`); resp.StatusCode != 200 {
		t.Errorf("text to a text-only model: status %d", resp.StatusCode)
	}
}
