package handlers_test

import (
	"os/exec"
	"strings"
	"testing"
)

// domainPackages are the packages of the conversation domain: they hold the
// rules that every API (chat completions today, Responses and memory next)
// applies the same way, and must stay free of HTTP.
var domainPackages = []string{
	"github.com/caddy-llm/gateway/handlers/conversation",
}

// domainMayImport are the only packages of this module a domain package may
// depend on, directly or not.
var domainMayImport = map[string]bool{
	"github.com/caddy-llm/gateway/store": true,
}

// TestDomainImportsNoHTTP holds the layering rule of handlers/: as go list
// sees it, no package of the domain depends, even transitively, on net/http
// or on any other package of this module than the store (so on no HTTP
// adapter: chat, conversations, settings, projects, httpx, apierr, auth,
// mcp, …). The adapters import the domain, never the other way round.
func TestDomainImportsNoHTTP(t *testing.T) {
	const module = "github.com/caddy-llm/gateway/"
	for _, pkg := range domainPackages {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 || deps[len(deps)-1] != pkg {
			t.Fatalf("go list -deps %s listed %q; want its dependencies, then itself", pkg, deps)
		}
		for _, dep := range deps[:len(deps)-1] {
			switch {
			case dep == "net/http" || strings.HasPrefix(dep, "net/http/"):
				t.Errorf("%s depends on %s: the domain must not speak HTTP", pkg, dep)
			case strings.HasPrefix(dep, module) && !domainMayImport[dep]:
				t.Errorf("%s depends on %s: the domain may depend only on the store", pkg, dep)
			}
		}
	}
}
