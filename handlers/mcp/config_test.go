package mcp

import (
	"testing"
)

func TestValidateServerName(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"docs", true},
		{"web-search", true},
		{"my_tools", true},
		{"_private", true},
		{"A1", true},
		{"", false},
		{"a__b", false},
		{"tools_", false},
		{"a.b", false},
		{"a b", false},
		{"söz", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateServerName(tt.name)
			if (err == nil) != tt.valid {
				t.Fatalf("ValidateServerName(%q) = %v, want valid %v", tt.name, err, tt.valid)
			}
		})
	}
}

// TestExposedNamesNeverClash checks the naming rule's promise: for valid
// server names, two different (server, tool) pairs never share an exposed
// name, even with tricky tool names.
func TestExposedNamesNeverClash(t *testing.T) {
	servers := []string{"a", "a-b", "a_b", "_a", "ab", "b"}
	tools := []string{"t", "_t", "__t", "t__", "b__t", "a__b", "x_y", ""}
	seen := make(map[string][2]string)
	for _, s := range servers {
		if err := ValidateServerName(s); err != nil {
			t.Fatalf("test server name %q is invalid: %v", s, err)
		}
		for _, tool := range tools {
			exposed := ExposedToolName(s, tool)
			if prev, dup := seen[exposed]; dup {
				t.Fatalf("%q is the exposed name of both %v and %v", exposed, prev, [2]string{s, tool})
			}
			seen[exposed] = [2]string{s, tool}
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{Servers: []ServerConfig{{Name: "a", URL: "https://tools.example/mcp"}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Servers[0].Timeout != DefaultServerTimeout || cfg.SessionTimeout != DefaultSessionTimeout ||
		cfg.MaxBodyBytes != DefaultMaxBodyBytes || cfg.Logger == nil || cfg.Version == "" {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestObjectSchema(t *testing.T) {
	tests := []struct {
		name   string
		schema any
		ok     bool
	}{
		{"none", nil, true},
		{"object", map[string]any{"type": "object", "properties": map[string]any{}}, true},
		{"string", map[string]any{"type": "string"}, false},
		{"no type", map[string]any{"properties": map[string]any{}}, false},
		{"not a map", []any{1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := objectSchema(tt.schema)
			if (err == nil) != tt.ok {
				t.Fatalf("objectSchema: err %v, want ok %v", err, tt.ok)
			}
			if tt.ok && got.(map[string]any)["type"] != "object" {
				t.Fatalf("objectSchema = %v", got)
			}
		})
	}
}
