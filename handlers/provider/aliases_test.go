package provider

import (
	"testing"
)

func TestRouterAliases(t *testing.T) {
	vllm := &fakeProvider{id: "vllm", models: []ModelSpec{
		{ID: "janhq/Jan-v1-4B", ContextLength: 8192, Capabilities: Capabilities{Streaming: true}},
		{ID: "jan-v1-7b", UpstreamID: "declared-7b"},
	}}
	no, half := false, 0.5
	r, err := NewRouter([]Provider{vllm}, RouterConfig{
		Aliases: map[string]string{
			"jan-v1-4b": "janhq/Jan-v1-4B",
			"jan-v1-7b": "janhq/Jan-v1-4B", // replaces the declared model
			"missing":   "not-served",
		},
		Models: []ModelConfig{
			{ID: "janhq/Jan-v1-4B", Vision: &no, Sampling: SamplingConfig{TopP: &half}},
			{ID: "jan-v1-7b", MaxOutputTokens: 100, Sampling: SamplingConfig{NoTemperature: true}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range r.Models() {
		ids = append(ids, m.ID)
	}
	if want := []string{"jan-v1-4b", "jan-v1-7b", "janhq/Jan-v1-4B"}; !equal(ids, want) {
		t.Fatalf("models = %v, want %v", ids, want)
	}
	a, _ := r.Model("jan-v1-4b")
	if got := a.Deployments(); len(got) != 1 || got[0] != (DeploymentInfo{"vllm", "janhq/Jan-v1-4B"}) {
		t.Errorf("alias deployments = %v", got)
	}
	if a.ContextLength != 8192 || a.Capabilities.Vision || !a.Capabilities.VisionKnown || a.DisplayName != "jan-v1-4b" {
		t.Errorf("the alias did not take its target's configured catalog: %+v", a)
	}
	if a.DefaultTopP == nil || *a.DefaultTopP != 0.5 || a.DefaultTemperature == nil || *a.DefaultTemperature != 0.7 {
		t.Errorf("alias sampling defaults = %v %v, want the target's 0.7 0.5", a.DefaultTemperature, a.DefaultTopP)
	}
	b, _ := r.Model("jan-v1-7b")
	if got := b.Deployments(); len(got) != 1 || got[0].Model != "janhq/Jan-v1-4B" {
		t.Errorf("the alias did not replace the declared model: %v", got)
	}
	if b.MaxOutputTokens != 100 || b.DefaultTemperature != nil {
		t.Errorf("the alias's own model config was not applied: %+v", b)
	}

	if _, err := NewRouter([]Provider{vllm}, RouterConfig{Aliases: map[string]string{"x": "x"}}); err == nil {
		t.Error("an alias of itself was accepted")
	}
}
