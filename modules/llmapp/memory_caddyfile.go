package llmapp

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

// unmarshalCaddyfile reads the memory block of the `llm` option:
//
//	memory {
//		embed_model          <model>
//		extract_model        <model>
//		embed_dimensions     <n>
//		max_items_per_user   <n>
//		queue_size           <n>
//		workers              <n>
//		duplicate_similarity <0-1>
//		token_budget         <n>
//		recall_timeout       <duration>
//		attempts             <n>
//		retry_backoff        <duration>
//		sweep_interval       <duration>
//	}
//
// The models are public model ids; each takes candidates, the first
// non-empty one is used (`embed_model {$MEMORY_EMBED_MODEL} jan-v1-4b`), and
// "off" means none. See MemoryConfig
// for the meaning and defaults of each option.
func (c *MemoryConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "embed_model":
			c.EmbedModel = modelArg(d)
		case "extract_model":
			c.ExtractModel = modelArg(d)
		case "embed_dimensions":
			c.EmbedDimensions, err = cfargs.Int(d)
		case "max_items_per_user":
			c.MaxItemsPerUser, err = cfargs.Int(d)
		case "queue_size":
			c.QueueSize, err = cfargs.Int(d)
		case "workers":
			c.Workers, err = cfargs.Int(d)
		case "duplicate_similarity":
			c.DuplicateSimilarity, err = unitArg(d)
		case "token_budget":
			c.TokenBudget, err = cfargs.Int(d)
		case "recall_timeout":
			c.RecallTimeout, err = cfargs.Duration(d)
		case "attempts":
			c.Attempts, err = cfargs.Int(d)
		case "retry_backoff":
			c.RetryBackoff, err = cfargs.Duration(d)
		case "sweep_interval":
			c.SweepInterval, err = cfargs.Duration(d)
		default:
			err = d.Errf("unrecognized memory option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// modelArg reads a model's candidates: the first non-empty one, where
// "off" (or "none") stands for no model at all, so that
// MEMORY_EMBED_MODEL=off turns off the default Caddyfile's memory.
func modelArg(d *caddyfile.Dispenser) string {
	m := cfargs.FirstNonEmpty(d)
	if m == "off" || m == "none" {
		return ""
	}
	return m
}

// unitArg reads a number from 0 to 1.
func unitArg(d *caddyfile.Dispenser) (float64, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	f, err := strconv.ParseFloat(d.Val(), 64)
	if err != nil || f < 0 || f > 1 {
		return 0, d.Errf("%s must be a number from 0 to 1, got '%s'", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return f, nil
}
