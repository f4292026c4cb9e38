package llmapp

import (
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parseLLM(t *testing.T, input string) (*App, error) {
	t.Helper()
	app := new(App)
	return app, app.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
}

func TestUnmarshalModelAliases(t *testing.T) {
	app, err := parseLLM(t, `llm {
		model_aliases jan-v1-4b=janhq/Jan-v1-4B,jan-v1-7b=janhq/Jan-v1-7B extra=x,extra=y
		model_aliases
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"jan-v1-4b": "janhq/Jan-v1-4B", "jan-v1-7b": "janhq/Jan-v1-7B", "extra": "y"}
	if !reflect.DeepEqual(app.ModelAliases, want) {
		t.Fatalf("aliases = %v", app.ModelAliases)
	}
	for _, bad := range []string{"a", "a=", "=b", "a=a"} {
		if _, err := parseLLM(t, "llm {\nmodel_aliases "+bad+"\n}"); err == nil {
			t.Errorf("model_aliases %s was accepted", bad)
		}
	}
}

func TestUnmarshalSamplingDefaults(t *testing.T) {
	app, err := parseLLM(t, `llm {
		model a {
			default_temperature 0.2
			default_top_p none
		}
		model b {
			default_temperature none
			default_top_p 0.9
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := app.Models[0], app.Models[1]
	if a.DefaultTemperature == nil || *a.DefaultTemperature != 0.2 || a.NoDefaultTemperature || a.DefaultTopP != nil || !a.NoDefaultTopP {
		t.Errorf("model a = %+v", a)
	}
	if b.DefaultTemperature != nil || !b.NoDefaultTemperature || b.DefaultTopP == nil || *b.DefaultTopP != 0.9 {
		t.Errorf("model b = %+v", b)
	}
	for _, bad := range []string{"default_temperature 2.5", "default_top_p 1.1", "default_temperature -1", "default_temperature hot", "default_top_p", "default_top_p 1 2"} {
		if _, err := parseLLM(t, "llm {\nmodel m {\n"+bad+"\n}\n}"); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestUnmarshalMCPServersFrom(t *testing.T) {
	app, err := parseLLM(t, `llm {
		mcp {
			servers_from tools=http://mcp-tools:8091/v1/mcp,search=https://s.example/mcp {
				header_from_env Authorization MCP_SERVERS_AUTHORIZATION
				timeout 10s
			}
			servers_from
			server own https://own.example/mcp
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	s := app.MCP.Servers
	if len(s) != 3 || s[0].Name != "tools" || s[0].URL != "http://mcp-tools:8091/v1/mcp" || s[1].Name != "search" || s[2].Name != "own" {
		t.Fatalf("servers = %+v", s)
	}
	for _, srv := range s[:2] {
		if srv.Headers["Authorization"] != "{env.MCP_SERVERS_AUTHORIZATION}" || time.Duration(srv.Timeout) != 10*time.Second {
			t.Errorf("server %s = %+v", srv.Name, srv)
		}
	}
	if s[2].Headers != nil {
		t.Errorf("the block of servers_from reached another server: %+v", s[2])
	}
	for _, bad := range []string{"servers_from tools", "servers_from =http://x", "servers_from a=b {\nheader_from_env Authorization\n}", "servers_from a=b {\nbogus\n}"} {
		if _, err := parseLLM(t, "llm {\nmcp {\n"+bad+"\n}\n}"); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
