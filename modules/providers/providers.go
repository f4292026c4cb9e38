// Package providers holds the model provider guest modules of the `llm` app:
// llm.providers.openai (any OpenAI-compatible server: vLLM, llama.cpp,
// OpenAI), llm.providers.anthropic and llm.providers.mock. Each turns its
// configuration into a provider.Provider of the handlers/provider packages.
package providers

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Timeouts are the upstream timeouts shared by the HTTP providers.
type Timeouts struct {
	// ConnectTimeout bounds dialing and the TLS handshake (default 10s).
	ConnectTimeout caddy.Duration `json:"connect_timeout,omitempty"`
	// FirstByteTimeout bounds the wait for the first event of a stream, or
	// for the whole answer without stream (default 120s).
	FirstByteTimeout caddy.Duration `json:"first_byte_timeout,omitempty"`
	// IdleTimeout bounds the silence between two events of a stream
	// (default 60s). Nothing bounds the length of a healthy stream.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// MaxIdleConnsPerHost is how many idle upstream connections are kept
	// (default 512).
	MaxIdleConnsPerHost int `json:"max_idle_conns_per_host,omitempty"`
}

// unmarshalTimeout handles one timeout subdirective; ok is false when the
// directive is not one of them.
func (t *Timeouts) unmarshalTimeout(d *caddyfile.Dispenser) (ok bool, err error) {
	var dst *caddy.Duration
	switch d.Val() {
	case "connect_timeout":
		dst = &t.ConnectTimeout
	case "first_byte_timeout":
		dst = &t.FirstByteTimeout
	case "idle_timeout":
		dst = &t.IdleTimeout
	case "max_idle_conns_per_host":
		n, err := intArg(d)
		t.MaxIdleConnsPerHost = n
		return true, err
	default:
		return false, nil
	}
	if !d.NextArg() {
		return true, d.ArgErr()
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return true, d.Errf("parsing %s: %v", d.Val(), err)
	}
	*dst = caddy.Duration(dur)
	return true, nil
}

// replaced expands runtime placeholders such as {env.OPENAI_API_KEY}, so that
// secrets can stay out of the JSON config (and Caddy's autosave of it).
func replaced(repl *caddy.Replacer, s string) string {
	if s == "" || !strings.Contains(s, "{") {
		return s
	}
	return repl.ReplaceAll(s, "")
}

func replacedMap(repl *caddy.Replacer, m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = replaced(repl, v)
	}
	return out
}

func intArg(d *caddyfile.Dispenser) (int, error) {
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(d.Val())
	if err != nil || n < 0 {
		return 0, d.Errf("want a non-negative whole number, got '%s'", d.Val())
	}
	return n, nil
}

func stringArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	return d.Val(), nil
}

func pairArg(d *caddyfile.Dispenser, m *map[string]string) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.ArgErr()
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[args[0]] = args[1]
	return nil
}

func dur(d caddy.Duration) time.Duration { return time.Duration(d) }
