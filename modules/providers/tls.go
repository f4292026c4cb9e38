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

// unmarshalTLS handles one TLS subdirective, in the vocabulary of Caddy's
// reverse_proxy `transport http` block; ok is false when the directive is
// not one of them.
func (u *Upstream) unmarshalTLS(d *caddyfile.Dispenser) (ok bool, err error) {
	name := d.Val()
	if !strings.HasPrefix(name, "tls_") {
		return false, nil
	}
	if u.TLS == nil {
		u.TLS = new(reverseproxy.TLSConfig)
	}
	switch name {
	case "tls_trust_pool":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		if u.TLS.CARaw != nil {
			return true, d.Err("tls_trust_pool given twice")
		}
		stem := d.Val()
		unm, err := caddyfile.UnmarshalModule(d, "tls.ca_pool.source."+stem)
		if err != nil {
			return true, err
		}
		ca, ok := unm.(caddytls.CA)
		if !ok {
			return true, d.Errf("module tls.ca_pool.source.%s is not a certificate pool", stem)
		}
		u.TLS.CARaw = caddyconfig.JSONModuleObject(ca, "provider", stem, nil)
	case "tls_client_auth":
		switch args := d.RemainingArgs(); len(args) {
		case 1:
			u.TLS.ClientCertificateAutomate = args[0]
		case 2:
			u.TLS.ClientCertificateFile, u.TLS.ClientCertificateKeyFile = args[0], args[1]
		default:
			return true, d.ArgErr()
		}
	case "tls_server_name":
		u.TLS.ServerName, err = stringArg(d)
	case "tls_insecure_skip_verify":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		u.TLS.InsecureSkipVerify = true
	case "tls_renegotiation":
		u.TLS.Renegotiation, err = stringArg(d)
	case "tls_curves":
		if u.TLS.Curves = d.RemainingArgs(); len(u.TLS.Curves) == 0 {
			return true, d.ArgErr()
		}
	default:
		return false, nil
	}
	return true, err
}

// Interface guard
var _ caddy.Provisioner = (*Upstream)(nil)
