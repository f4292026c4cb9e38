package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// gatewayLeeway is the clock skew tolerated on the gateway's own tokens; they
// are issued and checked by replicas whose clocks agree closely.
const gatewayLeeway = 5 * time.Second

// userCacheTTL bounds how long a user row read to verify a gateway token is
// reused.
const userCacheTTL = 10 * time.Minute

var (
	errNoKID      = errors.New("token has no key id, or one that is not a string")
	errUnknownKID = errors.New("token's key id is unknown")
	errKeyMisfit  = errors.New("token's algorithm does not fit its key")
)

// accessClaims are the claims of the gateway's own access tokens.
type accessClaims struct {
	jwt.RegisteredClaims
	Kind     string `json:"kind,omitempty"`
	Username string `json:"preferred_username,omitempty"`
}

// newGatewayParser returns the parser of the gateway's own tokens: EdDSA
// only, the gateway's issuer and audience, exp required.
func newGatewayParser(cfg Config) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{signingAlgorithm}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(gatewayLeeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable signatures
	)
}

// errNoSigningKey means no signing key could be loaded or created: the
// store was unavailable at start and still is.
var errNoSigningKey = errors.New("no signing key is available")

// issueAccessToken signs an access token for the user.
func (s *Service) issueAccessToken(ctx context.Context, u store.User) (string, time.Time, error) {
	key := s.keys.signingKey()
	if key == nil {
		// The store was unavailable when the keys were last loaded; try
		// again now (at most once a second) rather than at the next
		// background check.
		_ = s.keys.ensure.refresh(ctx, time.Now(), false)
		if key = s.keys.signingKey(); key == nil {
			return "", time.Time{}, errNoSigningKey
		}
	}
	now := s.now()
	exp := now.Add(s.cfg.AccessTTL)
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   u.PublicID,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        newOpaqueToken()[:22],
		},
		Kind:     u.Kind,
		Username: u.Username,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = key.kid
	signed, err := t.SignedString(key.private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing access token: %w", err)
	}
	// Seed the user cache: the token is usually presented next on this
	// replica, and then verifying it needs no store read.
	s.gatewayUsers.put(u.PublicID, userPrincipal(u, s.cfg.Issuer), now.Add(userCacheTTL), now)
	// NumericDate drops sub-second precision; report what the token says.
	return signed, claims.ExpiresAt.Time, nil
}

// verifyGatewayToken verifies one of the gateway's own access tokens and
// returns its principal.
func (s *Service) verifyGatewayToken(ctx context.Context, raw string) (verifiedToken, error) {
	var storeErr error
	seen := time.Now()
	claims := new(accessClaims)
	_, err := s.gatewayParser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errNoKID
		}
		if key := s.keys.lookup(kid); key != nil {
			return key.public, nil
		}
		// Maybe another replica created the key a moment ago.
		if err := s.keys.reload.refresh(ctx, seen, true); err != nil {
			storeErr = err
			return nil, err
		}
		if key := s.keys.lookup(kid); key != nil {
			return key.public, nil
		}
		return nil, errUnknownKID
	})
	if err != nil {
		s.debugReject("invalid gateway token", err)
		switch {
		case storeErr != nil && !errors.Is(storeErr, context.Canceled):
			return verifiedToken{}, storeError(storeErr)
		case errors.Is(err, jwt.ErrTokenExpired):
			return verifiedToken{}, errTokenExpired
		default:
			return verifiedToken{}, errInvalidToken
		}
	}
	if !strings.HasPrefix(claims.Subject, store.PrefixUser+"_") {
		s.debugReject("gateway token without a user subject", nil)
		return verifiedToken{}, errInvalidToken
	}
	p, err := s.gatewayUser(ctx, claims.Subject)
	if err != nil {
		return verifiedToken{}, err
	}
	return verifiedToken{principal: p, expiresAt: claims.ExpiresAt.Time}, nil
}

// gatewayUser returns the principal of the user a gateway token names.
func (s *Service) gatewayUser(ctx context.Context, publicID string) (*principal.Principal, error) {
	now := s.now()
	if p, ok := s.gatewayUsers.get(publicID, now); ok {
		return p, nil
	}
	u, err := s.st.GetUserByPublicID(ctx, publicID)
	if errors.Is(err, store.ErrNotFound) {
		s.debugReject("gateway token for an unknown user", nil)
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, storeFailure(s.log, "reading the user of an access token", err)
	}
	p := userPrincipal(u, s.cfg.Issuer)
	s.gatewayUsers.put(publicID, p, now.Add(userCacheTTL), now)
	return p, nil
}

// userPrincipal returns the principal of a user authenticated by an access
// token of the issuer.
func userPrincipal(u store.User, issuer string) *principal.Principal {
	kind := principal.KindUser
	if u.Kind == store.UserKindGuest {
		kind = principal.KindGuest
	}
	return &principal.Principal{
		UserID:       u.ID,
		UserPublicID: u.PublicID,
		Kind:         kind,
		Method:       principal.MethodJWT,
		Issuer:       issuer,
		Username:     u.Username,
		Email:        u.Email,
	}
}
