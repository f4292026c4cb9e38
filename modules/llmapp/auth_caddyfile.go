package llmapp

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-llm/gateway/modules/internal/cfargs"
)

// unmarshalCaddyfile reads the auth block of the `llm` option:
//
//	auth {
//		issuer                  <iss>...
//		access_ttl              <duration>
//		refresh_ttl             <duration>
//		key_rotation            <duration>
//		revocation_poll         <duration>
//		guest_retention         <duration>
//		refresh_token_retention <duration>
//		retention_interval      <duration>
//		oidc {
//			<the oidc options: OIDCConfig.unmarshalCaddyfile>
//		}
//	}
//
// `<iss>...` takes the first non-empty argument, so that an unset
// environment variable ({$ISSUER}) leaves the option unset.
func (c *AuthConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "issuer":
			c.Issuer = cfargs.FirstNonEmpty(d)
		case "access_ttl":
			c.AccessTTL, err = cfargs.Duration(d)
		case "refresh_ttl":
			c.RefreshTTL, err = cfargs.Duration(d)
		case "key_rotation":
			c.KeyRotation, err = cfargs.Duration(d)
		case "revocation_poll":
			c.RevocationPoll, err = cfargs.Duration(d)
		case "guest_retention":
			c.GuestRetention, err = cfargs.Duration(d)
		case "refresh_token_retention":
			c.RefreshTokenRetention, err = cfargs.Duration(d)
		case "retention_interval":
			c.RetentionInterval, err = cfargs.Duration(d)
		case "oidc":
			if c.OIDC == nil {
				c.OIDC = new(OIDCConfig)
			}
			err = c.OIDC.unmarshalCaddyfile(d)
		default:
			err = d.Errf("unrecognized auth option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalCaddyfile reads the oidc block of the auth block:
//
//	oidc {
//		jwks_url          <url>...
//		keycloak_base_url <url>...
//		keycloak_realm    <realm>...
//		issuer            <iss>...
//		audience          <aud>...
//		allow_any_audience
//		algorithms        <alg>...
//		leeway            <duration>
//	}
//
// Options marked ... take their first non-empty argument (algorithms: all
// the non-empty ones), so that unset environment variables leave them unset;
// OIDC is off while it has no key set URL.
func (o *OIDCConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "jwks_url":
			o.JWKSURL = cfargs.FirstNonEmpty(d)
		case "keycloak_base_url":
			o.KeycloakBaseURL = cfargs.FirstNonEmpty(d)
		case "keycloak_realm":
			o.KeycloakRealm = cfargs.FirstNonEmpty(d)
		case "issuer":
			o.Issuer = cfargs.FirstNonEmpty(d)
		case "audience":
			o.Audience = cfargs.FirstNonEmpty(d)
		case "allow_any_audience":
			o.AllowAnyAudience = true
			err = cfargs.Flag(d)
		case "algorithms":
			o.Algorithms = cfargs.NonEmpty(d)
		case "leeway":
			o.Leeway, err = cfargs.Duration(d)
		default:
			err = d.Errf("unrecognized oidc option '%s'", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
