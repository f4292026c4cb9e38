package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Bounds of the OIDC subject cache.
const (
	subjectCacheSize = 100_000
	subjectCacheTTL  = time.Hour
	maxSubjectLen    = 255
)

// errNoKeySet means the OIDC provider's key set has never been fetched.
var errNoKeySet = errors.New("no OIDC key set fetched yet")

// oidcClaims are the claims read from an OIDC access token.
type oidcClaims struct {
	jwt.RegisteredClaims
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	Name              string `json:"name"`
	// Roles: Keycloak puts realm roles in realm_access.roles; other
	// providers use a top-level roles claim.
	Roles       []string `json:"roles"`
	RealmAccess struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
}

// maxRoles bounds the roles kept from one token.
const maxRoles = 64

// roles returns the token's roles, at most maxRoles.
func (c *oidcClaims) roles() []string {
	r := append(c.RealmAccess.Roles[:len(c.RealmAccess.Roles):len(c.RealmAccess.Roles)], c.Roles...)
	return r[:min(len(r), maxRoles)]
}

// oidcUser is a cached mapping of a subject to its user, with the profile
// claims the user row was last written from.
type oidcUser struct {
	principal             *principal.Principal
	username, email, name string
}

// oidcVerifier verifies access tokens of the external OIDC provider and maps
// each (issuer, subject) to one user.
type oidcVerifier struct {
	cfg    *OIDCConfig
	st     store.UserStore
	log    *zap.Logger
	now    func() time.Time
	parser *jwt.Parser
	keys   *remoteKeys
	// users maps a subject to its user so that a subject seen before costs
	// no store write; a changed profile claim writes once.
	users *ttlCache[string, *oidcUser]
}

func newOIDCVerifier(cfg *OIDCConfig, st store.UserStore, client *http.Client, log *zap.Logger, now func() time.Time) *oidcVerifier {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable signatures
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &oidcVerifier{
		cfg:    cfg,
		st:     st,
		log:    log,
		now:    now,
		parser: jwt.NewParser(opts...),
		keys:   newRemoteKeys(cfg, client, log),
		users:  newTTLCache[string, *oidcUser](subjectCacheSize),
	}
}

// verify verifies an OIDC access token and returns its principal.
func (v *oidcVerifier) verify(ctx context.Context, raw string) (verifiedToken, error) {
	claims := new(oidcClaims)
	_, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok && t.Header["kid"] != nil {
			return nil, errNoKID
		}
		k, ok := v.keys.lookup(kid)
		if !ok {
			// The provider may have rotated its keys. The refresher limits
			// how often tokens with made-up key ids can make us fetch.
			_ = v.keys.fetch.refresh(ctx, time.Now(), false) // failures are logged by the fetch
			if k, ok = v.keys.lookup(kid); !ok {
				if !v.keys.fetch.succeeded() {
					// No key set was ever fetched: the token cannot be
					// judged, and the fault is ours, not the client's.
					return nil, errNoKeySet
				}
				return nil, errUnknownKID
			}
		}
		alg := t.Method.Alg()
		if (k.alg != "" && k.alg != alg) || !algorithmFits(alg, k.key) {
			return nil, errKeyMisfit
		}
		return k.key, nil
	})
	if err != nil {
		if ce := v.log.Check(zap.DebugLevel, "rejected credential"); ce != nil {
			ce.Write(zap.String("reason", "invalid OIDC token"), zap.Error(err))
		}
		if errors.Is(err, errNoKeySet) {
			return verifiedToken{}, errOIDCUnavailable
		}
		if errors.Is(err, jwt.ErrTokenExpired) {
			return verifiedToken{}, errTokenExpired
		}
		return verifiedToken{}, errInvalidToken
	}
	if claims.Subject == "" || len(claims.Subject) > maxSubjectLen {
		return verifiedToken{}, errInvalidToken
	}
	p, err := v.user(ctx, claims)
	if err != nil {
		return verifiedToken{}, err
	}
	if roles := claims.roles(); len(roles) > 0 {
		// The cached principal is the subject's; roles are the token's.
		withRoles := *p
		withRoles.Roles = roles
		p = &withRoles
	}
	return verifiedToken{principal: p, expiresAt: claims.ExpiresAt.Time}, nil
}

// user returns the principal of the token's subject, creating or updating
// its user row only when the subject is new or its profile changed.
func (v *oidcVerifier) user(ctx context.Context, c *oidcClaims) (*principal.Principal, error) {
	username := c.PreferredUsername
	if username == "" {
		username = c.Email
	}
	now := v.now()
	if u, ok := v.users.get(c.Subject, now); ok && u.username == username && u.email == c.Email && u.name == c.Name {
		return u.principal, nil
	}
	row, err := v.st.UpsertUser(ctx, store.User{
		Issuer:   v.cfg.Issuer,
		Subject:  c.Subject,
		Kind:     store.UserKindUser,
		Username: username,
		Email:    c.Email,
		Name:     c.Name,
	})
	if err != nil {
		return nil, storeFailure(v.log, "mapping an OIDC subject to its user", err)
	}
	p := userPrincipal(row, v.cfg.Issuer)
	v.users.put(c.Subject, &oidcUser{principal: p, username: username, email: c.Email, name: c.Name}, now.Add(subjectCacheTTL), now)
	return p, nil
}
