// Package cfargs reads the arguments of one Caddyfile directive: the helpers
// the `llm` global option and the provider modules share, so that an option
// of either takes its arguments and reports its errors the same way.
//
// Each helper is called with the dispenser on the directive's name and
// consumes the rest of its line; the error names the directive.
package cfargs

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// String reads exactly one argument.
func String(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// List reads one or more arguments.
func List(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	return args, nil
}

// FirstNonEmpty returns the first non-empty argument, or "" when there is
// none: environment placeholders ({$X}) that are unset expand to empty
// arguments, so `jwks_url {$JWKS_URL}` leaves the option unset and
// `issuer {$ISSUER} default` falls back to the second.
func FirstNonEmpty(d *caddyfile.Dispenser) string {
	var first string
	for d.NextArg() {
		if first == "" {
			first = d.Val()
		}
	}
	return first
}

// NonEmpty returns the non-empty arguments.
func NonEmpty(d *caddyfile.Dispenser) []string {
	var args []string
	for d.NextArg() {
		if d.Val() != "" {
			args = append(args, d.Val())
		}
	}
	return args
}

// Candidates returns the non-empty arguments joined by spaces: candidates of
// which the first that is non-empty once runtime placeholders ({env.X}) are
// expanded is used (see llmapp's firstCandidate).
func Candidates(d *caddyfile.Dispenser) string {
	return strings.Join(NonEmpty(d), " ")
}

// Int reads one non-negative whole number that fits in an int32.
func Int(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	arg, err := String(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(arg, 10, 32)
	if err != nil || n < 0 {
		return 0, d.Errf("%s takes a non-negative whole number, got '%s'", name, arg)
	}
	return int(n), nil
}

// Duration reads one duration as Caddy writes them: "250ms", "1m30s", "1d".
func Duration(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	arg, err := String(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(arg)
	if err != nil {
		return 0, d.Errf("%s takes a duration (like 500ms, 30s, 1h): %v", name, err)
	}
	return caddy.Duration(dur), nil
}

// Bool reads true or false.
func Bool(d *caddyfile.Dispenser) (bool, error) {
	name := d.Val()
	arg, err := String(d)
	if err != nil {
		return false, err
	}
	v, err := strconv.ParseBool(arg)
	if err != nil {
		return false, d.Errf("%s takes true or false, got '%s'", name, arg)
	}
	return v, nil
}

// Flag checks that a directive that stands alone (`fallback`,
// `discover_models`) has no argument.
func Flag(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Pair reads a key and a value into *m, creating the map when needed.
func Pair(d *caddyfile.Dispenser, m *map[string]string) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.ArgErr()
	}
	if *m == nil {
		*m = make(map[string]string)
	}
	(*m)[args[0]] = args[1]
	return nil
}

// Fields returns the items of list-valued arguments, split at commas and
// white space, without empty ones: `model_aliases {$MODEL_ALIASES}` takes
// "a=b,c=d" as it is, and an empty variable gives none.
func Fields(d *caddyfile.Dispenser) []string {
	var items []string
	for d.NextArg() {
		items = append(items, strings.FieldsFunc(d.Val(), func(r rune) bool {
			return r == ',' || unicode.IsSpace(r)
		})...)
	}
	return items
}
