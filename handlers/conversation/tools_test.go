package conversation

import (
	"testing"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

func TestToolPolicy(t *testing.T) {
	st := memory.New()
	u, err := st.UpsertUser(t.Context(), store.User{Issuer: "i", Subject: "s", Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	policy := ToolPolicy{Store: st}
	if on, err := policy.ToolsEnabled(t.Context(), u.ID); err != nil || !on {
		t.Fatalf("no settings stored: %v %v, want the spec's default true", on, err)
	}
	if _, err := st.UpdateSettings(t.Context(), u.ID, DefaultSettings(), func(s *store.UserSettings) error {
		s.EnableTools = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if on, err := policy.ToolsEnabled(t.Context(), u.ID); err != nil || on {
		t.Fatalf("enable_tools false stored: %v %v", on, err)
	}
}
