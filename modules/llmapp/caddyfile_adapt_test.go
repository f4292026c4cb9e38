package llmapp_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile" // the "caddyfile" adapter
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-llm/gateway/modules/all"
)

// update rewrites the expected JSON of the golden tests from what the
// adapter produces now: `go test ./modules/llmapp -run Golden -update`.
// Review the diff before committing it.
var update = flag.Bool("update", false, "rewrite the golden files of TestGolden* from the current adapter output")

// separator splits a golden file into its Caddyfile and the JSON it adapts
// to, as in Caddy's own caddyfile_adapt tests.
const separator = "\n----------\n"

// TestGoldenCaddyfileAdapt adapts every testdata/caddyfile_adapt/*.caddyfiletest
// Caddyfile and compares the JSON with the one after the separator: each
// option of the `llm` global option (and of the provider modules) maps to
// the JSON field it documents.
func TestGoldenCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, found := strings.Cut(string(raw), separator)
			if !found && !*update {
				t.Fatalf("%s has no %q separator before the expected JSON", file, strings.TrimSpace(separator))
			}
			got := adaptJSON(t, input)
			if *update {
				writeGolden(t, file, input+separator+got)
				return
			}
			if got != want {
				t.Errorf("adapted JSON differs from %s (rerun with -update to accept it)\n got:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// TestGoldenDefaultCaddyfile adapts the repository's default Caddyfile with
// no environment and compares it with testdata/default_caddyfile.json. Other
// changes to the Caddyfile change it on purpose: regenerate it with
// `go test ./modules/llmapp -run Golden -update` and review the diff.
func TestGoldenDefaultCaddyfile(t *testing.T) {
	raw, err := os.ReadFile("../../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	// The default config is what runs with no environment at all.
	for _, m := range regexp.MustCompile(`\{\$([A-Za-z0-9_]+)`).FindAllStringSubmatch(string(raw), -1) {
		t.Setenv(m[1], "") // restores the variable after the test
		os.Unsetenv(m[1])
	}
	got := adaptJSON(t, string(raw))
	const golden = "testdata/default_caddyfile.json"
	if *update {
		writeGolden(t, golden, got)
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the default Caddyfile adapts differently from %s (rerun with -update to accept it)\n got:\n%s", golden, got)
	}
}

// TestGoldenCoversEveryOption reads the option names the parsers switch on
// (case "name": in the Caddyfile parsers of this package and of
// modules/providers) and checks that each is used by a golden Caddyfile, so
// that a new option comes with its golden case.
func TestGoldenCoversEveryOption(t *testing.T) {
	var parsers []string
	for _, pattern := range []string{"caddyfile.go", "*_caddyfile.go", "../providers/*.go"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		parsers = append(parsers, files...)
	}
	var inputs strings.Builder
	goldens, _ := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	for _, file := range goldens {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		input, _, _ := strings.Cut(string(raw), separator)
		inputs.WriteString(input)
	}
	caseLine := regexp.MustCompile(`(?m)^\s*case ("[a-z_]+"(?:, "[a-z_]+")*):`)
	name := regexp.MustCompile(`"([a-z_]+)"`)
	seen := 0
	for _, file := range parsers {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range caseLine.FindAllStringSubmatch(string(src), -1) {
			for _, n := range name.FindAllStringSubmatch(c[1], -1) {
				seen++
				if !regexp.MustCompile(`(?m)^\s*` + n[1] + `(\s|$)`).MatchString(inputs.String()) {
					t.Errorf("option %s (%s) has no golden case in testdata/caddyfile_adapt", n[1], file)
				}
			}
		}
	}
	if seen < 50 {
		t.Fatalf("found only %d options in %v: has the parsers' layout changed?", seen, parsers)
	}
}

// TestCaddyfileErrors checks that malformed `llm` options are refused at
// adapt time with a message naming the problem.
func TestCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, llm, want string
	}{
		{"unknown option", "colour blue", "unrecognized llm option 'colour'"},
		// Closes the first llm option and opens a second with an argument.
		{"arguments on llm", "}\n\tllm x {", "wrong argument count"},
		{"provider without kind", "provider x", "provider takes an id and a kind"},
		{"unknown provider kind", "provider x gemini", "unknown kind 'gemini'"},
		{"unknown provider option", block("provider x openai", "colour blue"), "unrecognized openai provider option 'colour'"},
		{"unknown anthropic option", block("provider x anthropic", "colour blue"), "unrecognized anthropic provider option 'colour'"},
		{"unknown mock option", block("provider x mock", "colour blue"), "unrecognized mock provider option 'colour'"},
		{"bad duration", "redis_timeout soon", "redis_timeout takes a duration"},
		{"duration twice", "redis_timeout 1s 2s", "wrong argument count"},
		{"bad provider duration", block("provider x openai", "idle_timeout soon"), "idle_timeout takes a duration"},
		{"bad mock duration", block("provider x mock", "token_delay soon"), "token_delay takes a duration"},
		{"negative number", "database_max_conns -1", "database_max_conns takes a non-negative whole number"},
		{"number too large", "database_max_conns 3000000000", "non-negative whole number"},
		{"bad provider number", block("provider x anthropic", "default_max_tokens many"), "default_max_tokens takes a non-negative whole number"},
		{"two provider names", block("provider x openai", "name a b"), "wrong argument count"},
		{"flag with argument", block("provider x openai", "discover_models yes"), "wrong argument count"},
		{"header without value", block("provider x openai", "header X-A"), "wrong argument count"},
		{"mock without models", block("provider x mock", "models"), "wrong argument count"},
		{"model without id", "model", "wrong argument count"},
		{"unknown model option", block("model m", "colour blue"), "unrecognized model option 'colour'"},
		{"deployment arity", block("model m", "deployment a b c"), "deployment takes a provider id"},
		{"bad bool", block("model m", "streaming maybe"), "streaming takes true or false"},
		{"temperature out of range", block("model m", "default_temperature 2.5"), "default_temperature takes a number from 0 to 2"},
		{"top_p out of range", block("model m", "default_top_p 1.1"), "default_top_p takes a number from 0 to 1"},
		{"bad alias", "model_aliases jan=jan", "'jan=jan' is not <alias>=<model>"},
		{"alias without model", "model_aliases jan-v1-4b=", "is not <alias>=<model>"},
		{"aliases with block", block("model_aliases a=b", "c=d"), "model_aliases takes no block"},
		{"unknown auth option", block("auth", "colour blue"), "unrecognized auth option 'colour'"},
		{"bad auth duration", block("auth", "guest_retention forever"), "guest_retention takes a duration"},
		{"unknown oidc option", block("auth", "oidc {\n\t\t\t\tcolour blue\n\t\t\t}"), "unrecognized oidc option 'colour'"},
		{"allow_any_audience with argument", block("auth", "oidc {\n\t\t\t\tallow_any_audience yes\n\t\t\t}"), "wrong argument count"},
		{"unknown mcp option", block("mcp", "colour blue"), "unrecognized mcp option 'colour'"},
		{"mcp server without url", block("mcp", "server a"), "server takes a name and a URL"},
		{"unknown mcp server option", block("mcp", "server a http://a {\n\t\t\t\tcolour blue\n\t\t\t}"), "unrecognized mcp server option 'colour'"},
		{"bad mcp sessions", block("mcp", "max_sessions_per_principal -2"), "max_sessions_per_principal takes a non-negative whole number"},
		{"bad servers_from pair", block("mcp", "servers_from tools"), "'tools' is not <name>=<url>"},
		{"header_from_env arity", block("mcp", "servers_from a=http://a {\n\t\t\t\theader_from_env Authorization\n\t\t\t}"), "header_from_env takes a header name"},
		{"unknown servers_from option", block("mcp", "servers_from a=http://a {\n\t\t\t\tcolour blue\n\t\t\t}"), "unrecognized servers_from option 'colour'"},
		{"tls client auth arity", block("provider x openai", "tls_client_auth a b c"), "wrong argument count"},
		{"unknown tls option", block("provider x openai", "tls_colour blue"), "unrecognized openai provider option 'tls_colour'"},
		{"tls curves without curve", block("provider x openai", "tls_curves"), "wrong argument count"},
		{"trust pool twice", block("provider x openai", "tls_trust_pool file /a.pem\n\t\t\ttls_trust_pool file /b.pem"), "tls_trust_pool given twice"},
		{"unknown trust pool source", block("provider x openai", "tls_trust_pool vault"), "tls.ca_pool.source.vault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := "{\n\tllm {\n\t\t" + tt.llm + "\n\t}\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("adapting\n%s\nerr = %v, want one containing %q", cfg, err, tt.want)
			}
		})
	}
}

// block returns an `llm` option line opening a block with one line in it,
// indented as TestCaddyfileErrors writes them.
func block(head, line string) string {
	return head + " {\n\t\t\t" + line + "\n\t\t}"
}

// adaptJSON adapts a Caddyfile and returns its JSON, indented with tabs and
// ending with a newline, so that golden files diff line by line.
func adaptJSON(t *testing.T, caddyfile string) string {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("adapter warning: %s", w.String())
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.String()
}

func writeGolden(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("updated %s", path)
}
