package llmapp

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

// unmarshalProvider reads
//
//	provider <id> openai|anthropic|mock {
//		<the kind's options>
//	}
//
// The kind is the module llm.providers.<kind>, whose UnmarshalCaddyfile
// (modules/providers) documents and reads the block.
func (a *App) unmarshalProvider(d *caddyfile.Dispenser) error {
	// The module reads the whole segment, "provider <id> <kind> { … }",
	// from a dispenser of its own.
	seg := d.NewFromNextSegment()
	seg.Next() // "provider"
	args := seg.RemainingArgs()
	if len(args) != 2 {
		return seg.Errf("provider takes an id and a kind: provider <id> openai|anthropic|mock { … }")
	}
	id, kind := args[0], args[1]
	info, err := caddy.GetModule("llm.providers." + kind)
	if err != nil {
		return seg.Errf("provider %s: unknown kind '%s'", id, kind)
	}
	mod, ok := info.New().(caddyfile.Unmarshaler)
	if !ok {
		return seg.Errf("provider kind '%s' has no Caddyfile syntax", kind)
	}
	seg.Reset()
	if err := mod.UnmarshalCaddyfile(seg); err != nil {
		return err
	}
	a.Providers = append(a.Providers, ProviderConfig{
		ID:          id,
		ProviderRaw: caddyconfig.JSONModuleObject(mod, "kind", kind, nil),
	})
	return nil
}

// unmarshalCaddyfile reads a model block of the `llm` option:
//
//	model <public id> {
//		deployment           <provider id> [<upstream model>]
//		owned_by             <owner>
//		display_name         <name>
//		context_length       <n>
//		max_output_tokens    <n>
//		streaming            true|false
//		tools                true|false
//		vision               true|false
//		supported_parameters <name>...
//		default_temperature  <0 to 2>|none
//		default_top_p        <0 to 1>|none
//	}
//
// deployment may be repeated: each adds one. default_temperature and
// default_top_p replace the spec's defaults sent upstream when a request
// omits the parameter; none sends nothing then.
func (m *ModelConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	var err error
	if m.ID, err = cfargs.String(d); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "deployment":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("deployment takes a provider id and optionally the upstream's model name")
			}
			dep := DeploymentConfig{Provider: args[0]}
			if len(args) == 2 {
				dep.Model = args[1]
			}
			m.Deployments = append(m.Deployments, dep)
		case "owned_by":
			m.OwnedBy, err = cfargs.String(d)
		case "display_name":
			m.DisplayName, err = cfargs.String(d)
		case "context_length":
			m.ContextLength, err = cfargs.Int(d)
		case "max_output_tokens":
			m.MaxOutputTokens, err = cfargs.Int(d)
		case "streaming":
			m.Streaming, err = boolPtrArg(d)
		case "tools":
			m.Tools, err = boolPtrArg(d)
		case "vision":
			m.Vision, err = boolPtrArg(d)
		case "supported_parameters":
			m.SupportedParameters = d.RemainingArgs()
		case "default_temperature":
			m.DefaultTemperature, m.NoDefaultTemperature, err = samplingDefaultArg(d, 2)
		case "default_top_p":
			m.DefaultTopP, m.NoDefaultTopP, err = samplingDefaultArg(d, 1)
		case "price":
			m.Price, err = priceArgs(d, m.ID)
		default:
			err = d.Errf("unrecognized model option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// boolPtrArg reads true or false for a catalog capability, which is left
// as the provider says when the option is absent (nil).
func boolPtrArg(d *caddyfile.Dispenser) (*bool, error) {
	v, err := cfargs.Bool(d)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// samplingDefaultArg reads `<value>|none` of default_temperature or
// default_top_p, the value from 0 to limit (the spec's range): none
// reports none and no value.
func samplingDefaultArg(d *caddyfile.Dispenser, limit float64) (value *float64, none bool, err error) {
	opt := d.Val()
	arg, err := cfargs.String(d)
	if err != nil {
		return nil, false, err
	}
	if arg == "none" {
		return nil, true, nil
	}
	v, err := strconv.ParseFloat(arg, 64)
	if err != nil || v < 0 || v > limit {
		return nil, false, d.Errf("%s takes a number from 0 to %g, or none; got '%s'", opt, limit, arg)
	}
	return &v, false, nil
}

// unmarshalModelAliases reads
//
//	model_aliases <alias>=<model>[,<alias>=<model>...]...
//
// Pairs are separated by commas or by spaces, so that
// `model_aliases {$MODEL_ALIASES}` takes MODEL_ALIASES as it is; an empty
// variable adds none. Later pairs for one alias win.
func (a *App) unmarshalModelAliases(d *caddyfile.Dispenser) error {
	for _, pair := range cfargs.Fields(d) {
		alias, target, _ := strings.Cut(pair, "=")
		if alias == "" || target == "" || alias == target {
			return d.Errf("model_aliases: '%s' is not <alias>=<model> (for example jan-v1-4b=janhq/Jan-v1-4B)", pair)
		}
		if a.ModelAliases == nil {
			a.ModelAliases = make(map[string]string)
		}
		a.ModelAliases[alias] = target
	}
	if d.NextBlock(d.Nesting()) {
		return d.Err("model_aliases takes no block")
	}
	return nil
}
