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

// TestCaddyfileErrors checks that malformed `llm` options are refused at
// adapt time with a message naming the problem.
func TestCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, llm, want string
	}{
		{"unknown option", "colour blue", "unrecognized llm option 'colour'"},
		{"provider without kind", "provider x", "provider takes an id and a kind"},
		{"unknown provider kind", "provider x gemini", "unknown kind 'gemini'"},
		{"unknown provider option", "provider x openai {\n\t\t\tcolour blue\n\t\t}", "unrecognized openai provider option 'colour'"},
		{"bad duration", "redis_timeout soon", "redis_timeout"},
		{"bad provider duration", "provider x openai {\n\t\t\tidle_timeout soon\n\t\t}", "parsing soon"},
		{"bad mock duration", "provider x mock {\n\t\t\ttoken_delay soon\n\t\t}", "parsing soon"},
		{"negative number", "database_max_conns -1", "non-negative"},
		{"model without id", "model", "wrong argument count"},
		{"bad bool", "model m {\n\t\t\tstreaming maybe\n\t\t}", "streaming takes true or false"},
		{"unknown auth option", "auth {\n\t\t\tcolour blue\n\t\t}", "unrecognized auth option 'colour'"},
		{"unknown oidc option", "auth {\n\t\t\toidc {\n\t\t\t\tcolour blue\n\t\t\t}\n\t\t}", "unrecognized oidc option 'colour'"},
		{"mcp server without url", "mcp {\n\t\t\tserver a\n\t\t}", "server takes a name and a URL"},
		{"tls client auth arity", "provider x openai {\n\t\t\ttls_client_auth a b c\n\t\t}", "wrong argument count"},
		{"unknown tls option", "provider x openai {\n\t\t\ttls_colour blue\n\t\t}", "unrecognized openai provider option 'tls_colour'"},
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
