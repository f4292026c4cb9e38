package main

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The default Caddyfile is as `caddy fmt` writes it, so `caddy run` starts
// without the warning "Caddyfile input is not formatted".
func TestDefaultCaddyfileIsFormatted(t *testing.T) {
	in := defaultCaddyfile(t)
	if out := string(caddyfile.Format([]byte(in))); out != in {
		t.Fatalf("the default Caddyfile is not formatted: run `bin/caddy fmt --overwrite Caddyfile`; formatted it reads:\n%s", out)
	}
}
