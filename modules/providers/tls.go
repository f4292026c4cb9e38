package providers

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// Provision builds the TLS client configuration of the upstream from TLS,
// with the code of Caddy's reverse_proxy, so that trust pools, client
// certificates and the rest mean what they mean there.
func (u *Upstream) Provision(ctx caddy.Context) error {
	if u.TLS == nil {
		return nil
	}
	if len(u.TLS.ExceptPorts) > 0 {
		return errors.New("provider tls: except_ports does not apply to a provider; the base_url's scheme decides")
	}
	if u.TLS.HandshakeTimeout != 0 {
		return errors.New("provider tls: handshake_timeout is not supported; connect_timeout bounds the handshake")
	}
	cfg, err := u.TLS.MakeTLSClientConfig(ctx)
	if err != nil {
		return fmt.Errorf("provisioning provider tls: %w", err)
	}
	if cfg != nil && cfg.InsecureSkipVerify {
		ctx.Logger().Warn("provider TLS certificate verification is DISABLED (insecure_skip_verify): anyone on the path can read the upstream's traffic, keys included")
	}
	u.tlsConfig = cfg
	return nil
}

// tlsFor returns the TLS client configuration for base, the expanded base
// URL; settings given for a plain http:// upstream are an error rather than
// silently unused.
func (u *Upstream) tlsFor(base string) (*tls.Config, error) {
	if u.tlsConfig != nil && strings.HasPrefix(strings.ToLower(base), "http://") {
		return nil, errors.New("tls settings given for an http:// base_url")
	}
	return u.tlsConfig, nil
}

// tls returns the TLS settings, creating them for the first tls_* option.
func (u *Upstream) tls() *reverseproxy.TLSConfig {
	if u.TLS == nil {
		u.TLS = new(reverseproxy.TLSConfig)
	}
	return u.TLS
}

// unmarshalTrustPool reads `tls_trust_pool <source> [<args…>] [{ … }]`,
// the trusted CAs as any tls.ca_pool.source module reads them, as in
// reverse_proxy's `transport http` block.
func (u *Upstream) unmarshalTrustPool(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	if u.TLS != nil && u.TLS.CARaw != nil {
		return d.Err("tls_trust_pool given twice")
	}
	stem := d.Val()
	unm, err := caddyfile.UnmarshalModule(d, "tls.ca_pool.source."+stem)
	if err != nil {
		return err
	}
	ca, ok := unm.(caddytls.CA)
	if !ok {
		return d.Errf("module tls.ca_pool.source.%s is not a certificate pool", stem)
	}
	u.tls().CARaw = caddyconfig.JSONModuleObject(ca, "provider", stem, nil)
	return nil
}

// unmarshalClientAuth reads `tls_client_auth <cert file> <key file>` or
// `tls_client_auth <automate name>` (a certificate Caddy manages).
func (u *Upstream) unmarshalClientAuth(d *caddyfile.Dispenser) error {
	switch args := d.RemainingArgs(); len(args) {
	case 1:
		u.tls().ClientCertificateAutomate = args[0]
	case 2:
		u.tls().ClientCertificateFile, u.tls().ClientCertificateKeyFile = args[0], args[1]
	default:
		return d.ArgErr()
	}
	return nil
}

// Interface guard
var _ caddy.Provisioner = (*Upstream)(nil)
