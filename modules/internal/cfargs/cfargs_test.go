package cfargs

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// on returns a dispenser on the directive of line, as a parser calls the
// helpers.
func on(line string) *caddyfile.Dispenser {
	d := caddyfile.NewTestDispenser(line)
	d.Next()
	return d
}

func TestArguments(t *testing.T) {
	if got := FirstNonEmpty(on(`issuer "" "" gw other`)); got != "gw" {
		t.Errorf("FirstNonEmpty = %q, want gw", got)
	}
	if got := FirstNonEmpty(on(`issuer ""`)); got != "" {
		t.Errorf("FirstNonEmpty of empty arguments = %q, want none", got)
	}
	if got := Candidates(on(`database_url "" {env.A} "" postgres://db`)); got != "{env.A} postgres://db" {
		t.Errorf("Candidates = %q", got)
	}
	if got := Fields(on(`model_aliases "a=b, c=d" e=f,,g=h ""`)); !reflect.DeepEqual(got, []string{"a=b", "c=d", "e=f", "g=h"}) {
		t.Errorf("Fields = %q", got)
	}
	if got, err := Duration(on(`timeout 1d`)); err != nil || time.Duration(got) != 24*time.Hour {
		t.Errorf("Duration(1d) = %v, %v", got, err)
	}
	if got, err := Int(on(`n 2147483647`)); err != nil || got != 1<<31-1 {
		t.Errorf("Int(max int32) = %v, %v", got, err)
	}
	m := map[string]string(nil)
	if err := Pair(on(`header X-A 1`), &m); err != nil || m["X-A"] != "1" {
		t.Errorf("Pair = %v, %v", m, err)
	}
}

func TestArgumentErrors(t *testing.T) {
	var m map[string]string
	tests := []struct {
		line, want string
		read       func(*caddyfile.Dispenser) error
	}{
		{"name", "wrong argument count", func(d *caddyfile.Dispenser) error { _, err := String(d); return err }},
		{"name a b", "wrong argument count", func(d *caddyfile.Dispenser) error { _, err := String(d); return err }},
		{"models", "wrong argument count", func(d *caddyfile.Dispenser) error { _, err := List(d); return err }},
		{"n -1", "n takes a non-negative whole number, got '-1'", func(d *caddyfile.Dispenser) error { _, err := Int(d); return err }},
		{"n 2147483648", "non-negative whole number", func(d *caddyfile.Dispenser) error { _, err := Int(d); return err }},
		{"n 1.5", "non-negative whole number", func(d *caddyfile.Dispenser) error { _, err := Int(d); return err }},
		{"timeout soon", "timeout takes a duration", func(d *caddyfile.Dispenser) error { _, err := Duration(d); return err }},
		{"timeout 1s 2s", "wrong argument count", func(d *caddyfile.Dispenser) error { _, err := Duration(d); return err }},
		{"tools maybe", "tools takes true or false, got 'maybe'", func(d *caddyfile.Dispenser) error { _, err := Bool(d); return err }},
		{"fallback yes", "wrong argument count", Flag},
		{"header X-A", "wrong argument count", func(d *caddyfile.Dispenser) error { return Pair(d, &m) }},
	}
	for _, tt := range tests {
		err := tt.read(on(tt.line))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want one containing %q", tt.line, err, tt.want)
		}
	}
}
