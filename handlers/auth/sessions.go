package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/store"
)

// session is a pair of tokens issued by guest login or a refresh.
type session struct {
	accessToken  string
	refreshToken string
	expiresAt    time.Time // of the access token
	user         store.User
}

// guestLogin creates a guest user and starts a session for it.
func (s *Service) guestLogin(ctx context.Context) (session, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	u, err := s.st.UpsertUser(ctx, store.User{
		Issuer:   s.cfg.Issuer,
		Subject:  store.NewPublicID("guest"),
		Kind:     store.UserKindGuest,
		Username: "guest-" + hex.EncodeToString(b[:]),
	})
	if err != nil {
		return session{}, storeFailure(s.log, "creating a guest user", err)
	}
	return s.startSession(ctx, u)
}

// startSession issues an access token and the first refresh token of a new
// token family.
func (s *Service) startSession(ctx context.Context, u store.User) (session, error) {
	access, exp, err := s.issueAccessToken(ctx, u)
	if err != nil {
		return session{}, s.issueError(err)
	}
	refresh := newOpaqueToken()
	sum := hashString(refresh)
	now := s.now()
	_, err = s.st.CreateRefreshToken(ctx, store.RefreshToken{
		UserID:    u.ID,
		FamilyID:  store.NewPublicID("fam"),
		Hash:      sum[:],
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.RefreshTTL),
	})
	if err != nil {
		return session{}, storeFailure(s.log, "storing a refresh token", err)
	}
	return session{accessToken: access, refreshToken: refresh, expiresAt: exp, user: u}, nil
}

// refreshSession exchanges a refresh token for a new session of the same
// family. Presenting a token that was already exchanged revokes the family:
// one of its holders is not its owner.
func (s *Service) refreshSession(ctx context.Context, old string) (session, error) {
	if !wellFormedOpaqueToken(old) {
		return session{}, errInvalidRefreshToken
	}
	oldSum := hashString(old)
	next := newOpaqueToken()
	nextSum := hashString(next)
	now := s.now()
	rec, err := s.st.RotateRefreshToken(ctx, oldSum[:], store.RefreshToken{
		Hash:      nextSum[:],
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.RefreshTTL),
	}, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return session{}, errInvalidRefreshToken
	case errors.Is(err, store.ErrTokenReused):
		s.log.Warn("refresh token reused; its token family is revoked")
		return session{}, errRefreshTokenReused
	case errors.Is(err, store.ErrExpired):
		return session{}, errRefreshTokenExpired
	case err != nil:
		return session{}, storeFailure(s.log, "rotating a refresh token", err)
	}
	u, err := s.st.GetUser(ctx, rec.UserID)
	if err != nil {
		return session{}, storeFailure(s.log, "reading the user of a refresh token", err)
	}
	access, exp, err := s.issueAccessToken(ctx, u)
	if err != nil {
		return session{}, s.issueError(err)
	}
	return session{accessToken: access, refreshToken: next, expiresAt: exp, user: u}, nil
}

// endSession revokes the token family of a refresh token. A token that is
// malformed or unknown has nothing to revoke.
func (s *Service) endSession(ctx context.Context, refresh string) error {
	if !wellFormedOpaqueToken(refresh) {
		return nil
	}
	sum := hashString(refresh)
	err := s.st.RevokeRefreshFamily(ctx, sum[:], s.now())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeFailure(s.log, "revoking a refresh token family", err)
	}
	return nil
}

// issueError maps a failure to issue an access token to the client's error:
// without a signing key (the store could not be read) a 503, else a 500.
func (s *Service) issueError(err error) error {
	if errors.Is(err, errNoSigningKey) {
		s.log.Warn("issuing an access token", zap.Error(err))
		return errUnavailable
	}
	s.log.Error("issuing an access token", zap.Error(err))
	return errInternal
}
