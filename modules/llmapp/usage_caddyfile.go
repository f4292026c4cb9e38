package llmapp

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

// unmarshalCaddyfile reads the usage block of the `llm` option:
//
//	usage {
//		off
//		flush_interval      <duration>
//		max_buffer          <n>
//		retention           <duration>
//		aggregate_retention <duration>
//		retention_interval  <duration>
//		price <model> <input per 1M tokens> <output per 1M tokens>
//		admin_role          <role>
//		tokens guest|user|api_key [<n>/<period>...]
//		default_max_tokens  <n>
//		tokens_fail_closed
//		budget user|api_key tokens|cost <amount>/day|month
//	}
//
// `tokens` takes the tier's token limits ("100000/min 2000000/day", also
// comma-separated, so one environment variable can hold them); none, as
// from an unset variable, leaves the tier unlimited.
func (c *UsageConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "off":
			c.Disabled = true
			err = cfargs.Flag(d)
		case "flush_interval":
			c.FlushInterval, err = cfargs.Duration(d)
		case "max_buffer":
			c.MaxBuffer, err = cfargs.Int(d)
		case "retention":
			c.Retention, err = cfargs.Duration(d)
		case "aggregate_retention":
			c.AggregateRetention, err = cfargs.Duration(d)
		case "retention_interval":
			c.RetentionInterval, err = cfargs.Duration(d)
		case "price":
			err = c.unmarshalPrice(d)
		case "admin_role":
			c.AdminRole = cfargs.FirstNonEmpty(d)
		case "tokens":
			if !d.NextArg() {
				return d.ArgErr()
			}
			tier := d.Val()
			limits := cfargs.Fields(d)
			if c.TokenLimits == nil {
				c.TokenLimits = make(map[string][]string)
			}
			c.TokenLimits[tier] = append(c.TokenLimits[tier], limits...)
			if len(c.TokenLimits[tier]) == 0 {
				delete(c.TokenLimits, tier)
			}
		case "default_max_tokens":
			c.DefaultMaxTokens, err = cfargs.Int(d)
		case "budget":
			err = c.unmarshalBudget(d)
		case "tokens_fail_closed":
			c.TokenLimitsFailClosed = true
			err = cfargs.Flag(d)
		default:
			err = d.Errf("unrecognized usage option '%s'", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalPrice reads `price <model> <input> <output>`, in the prices'
// unit (USD) per million tokens.
func (c *UsageConfig) unmarshalPrice(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	model := d.Val()
	p, err := priceArgs(d, model)
	if err != nil {
		return err
	}
	if c.Prices == nil {
		c.Prices = make(map[string]PriceConfig)
	}
	c.Prices[model] = *p
	return nil
}

// priceArgs reads `<input> <output>`, per million tokens, the rest of a
// price line (of the usage block, or of a model block).
func priceArgs(d *caddyfile.Dispenser, model string) (*PriceConfig, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return nil, d.Errf("price of %s takes <input per 1M tokens> <output per 1M tokens>", model)
	}
	var p PriceConfig
	for i, dst := range []*float64{&p.Input, &p.Output} {
		v, err := strconv.ParseFloat(args[i], 64)
		if err != nil || v < 0 || v > 1e6 {
			return nil, d.Errf("price of %s: '%s' is not a price per million tokens", model, args[i])
		}
		*dst = v
	}
	return &p, nil
}

// unmarshalBudget reads `budget <scope> <kind> <amount>/<period>`, like
// `budget user cost 10/month`.
func (c *UsageConfig) unmarshalBudget(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 3 {
		return d.ArgErr()
	}
	amount, period, ok := strings.Cut(args[2], "/")
	v, err := strconv.ParseFloat(amount, 64)
	if !ok || err != nil {
		return d.Errf("budget: '%s' is not <amount>/day or <amount>/month", args[2])
	}
	b := BudgetConfig{Scope: args[0], Kind: args[1], Amount: v, Period: period}
	if _, err := b.rule(); err != nil {
		return d.Err(err.Error())
	}
	c.Budgets = append(c.Budgets, b)
	return nil
}
