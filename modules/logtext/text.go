// Package logtext adds the `text` log encoder, so that the spec's
// LOG_FORMAT=text works as `format {$LOG_FORMAT}` next to Caddy's `json`.
package logtext

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/logging"
)

func init() {
	caddy.RegisterModule(TextEncoder{})
}

// TextEncoder is Caddy's console encoder under the name `text`, without
// colour codes (logs are read from files and collectors more than from
// terminals).
type TextEncoder struct {
	logging.ConsoleEncoder
}

// CaddyModule returns the Caddy module information.
func (TextEncoder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.logging.encoders.text",
		New: func() caddy.Module { return new(TextEncoder) },
	}
}

// Provision sets up the encoder.
func (te *TextEncoder) Provision(ctx caddy.Context) error {
	if te.LevelFormat == "" {
		te.LevelFormat = "upper"
	}
	return te.ConsoleEncoder.Provision(ctx)
}
