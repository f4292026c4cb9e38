package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// siteOptions shape a test Caddyfile.
type siteOptions struct {
	Port     int    // the site's port on 127.0.0.1
	Admin    string // admin address; empty turns the admin API off
	LLM      string // lines inside the global llm { } option
	Global   string // more global options
	Routes   string // handlers inside route { } before llm_api
	Site     string // more site-level directives
	NoAPI    bool   // leave llm_api out (for configs that add their own)
	DataDir  string // Caddy's storage folder
	MaxBody  string // request_body max_size (default 10MB)
	LogLevel string // default debug: every test's logs are checked for secrets
}

// testCaddyfile renders a Caddyfile like the default one, on a loopback
// port, with the given options.
func testCaddyfile(t testing.TB, o siteOptions) string {
	t.Helper()
	admin := "admin off"
	if o.Admin != "" {
		admin = "admin " + o.Admin
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.MaxBody == "" {
		o.MaxBody = "10MB"
	}
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	api := "llm_api"
	if o.NoAPI {
		api = ""
	}
	return fmt.Sprintf(`{
	%s
	storage file_system %s
	log {
		output file %s
		format filter {
			wrap json
			request>headers>X-Api-Key delete
			request>uri query {
				delete access_token
				delete api_key
			}
		}
		level %s
	}
	grace_period 30s
	%s
	llm {
		%s
	}
}

http://127.0.0.1:%d {
	log {
		output file %s
		format filter {
			wrap json
			request>headers>X-Api-Key delete
			request>uri query {
				delete access_token
				delete api_key
			}
		}
	}
	uri /llm/v1/* strip_prefix /llm
	%s
	route {
		request_body {
			max_size %s
		}
		%s
		%s
	}
	handle_errors {
		llm_error
	}
}
`, admin, o.DataDir, logFile, o.LogLevel, o.Global, o.LLM, o.Port, logFile, o.Site, o.MaxBody, o.Routes, api)
}

// defaultCaddyfile returns the repository's default Caddyfile.
func defaultCaddyfile(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatalf("reading the default Caddyfile: %v", err)
	}
	return string(b)
}

// withPorts rewrites the default Caddyfile's listeners onto free ports, so
// that tests can run it beside other services.
func withPorts(caddyfile string, gatewayPort, servicePort int) string {
	r := strings.NewReplacer(
		"{$SITE_ADDRESS::8000}", fmt.Sprintf("http://127.0.0.1:%d", gatewayPort),
		":{$HTTP_PORT:8080}", fmt.Sprintf("http://127.0.0.1:%d", servicePort),
		"admin {$ADMIN_ADDRESS:localhost:2019}", "admin off",
	)
	return r.Replace(caddyfile)
}
