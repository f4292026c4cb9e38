package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// CreateRefreshToken implements store.TokenStore.
func (s *Store) CreateRefreshToken(_ context.Context, t store.RefreshToken) (store.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser("creating refresh token", t.UserID); err != nil {
		return store.RefreshToken{}, err
	}
	if t.FamilyID == "" {
		t.FamilyID = newFamilyID()
	}
	return s.insertRefreshToken("creating refresh token", t, time.Time{})
}

// insertRefreshToken stores a copy of t. Callers hold s.mu for writing.
func (s *Store) insertRefreshToken(op string, t store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	if _, dup := s.refreshByHash[string(t.Hash)]; dup {
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	rec := copyRefreshToken(&t)
	rec.ID = s.nextID()
	rec.UsedAt, rec.RevokedAt = nil, nil
	switch {
	case !t.CreatedAt.IsZero():
		rec.CreatedAt = normTime(t.CreatedAt)
	case !now.IsZero():
		rec.CreatedAt = now
	default:
		rec.CreatedAt = s.now()
	}
	rec.ExpiresAt = normTime(t.ExpiresAt)
	s.refreshByHash[string(rec.Hash)] = &rec
	s.refreshByFamily[rec.FamilyID] = append(s.refreshByFamily[rec.FamilyID], &rec)
	return copyRefreshToken(&rec), nil
}

// RotateRefreshToken implements store.TokenStore.
func (s *Store) RotateRefreshToken(_ context.Context, oldHash []byte, next store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	const op = "rotating refresh token"
	now = normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refreshByHash[string(oldHash)]
	if !ok {
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if old.UsedAt != nil || old.RevokedAt != nil {
		s.revokeFamily(old.FamilyID, now)
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, store.ErrTokenReused)
	}
	if !now.Before(old.ExpiresAt) {
		return store.RefreshToken{}, fmt.Errorf("%s: %w", op, store.ErrExpired)
	}
	next.UserID = old.UserID
	next.FamilyID = old.FamilyID
	rec, err := s.insertRefreshToken(op, next, now)
	if err != nil {
		return store.RefreshToken{}, err
	}
	old.UsedAt = &now
	return rec, nil
}

// RevokeRefreshFamily implements store.TokenStore.
func (s *Store) RevokeRefreshFamily(_ context.Context, hash []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshByHash[string(hash)]
	if !ok {
		return fmt.Errorf("revoking refresh token family: %w", store.ErrNotFound)
	}
	s.revokeFamily(t.FamilyID, normTime(now))
	return nil
}

// revokeFamily revokes every token of the family not revoked yet. Callers
// hold s.mu for writing.
func (s *Store) revokeFamily(family string, now time.Time) {
	for _, t := range s.refreshByFamily[family] {
		if t.RevokedAt == nil {
			at := now
			t.RevokedAt = &at
		}
	}
}

// ListSigningKeys implements store.TokenStore.
func (s *Store) ListSigningKeys(_ context.Context) ([]store.SigningKey, error) {
	s.mu.RLock()
	keys := make([]store.SigningKey, 0, len(s.signingKeys))
	for _, k := range s.signingKeys {
		keys = append(keys, copySigningKey(k))
	}
	s.mu.RUnlock()
	slices.SortFunc(keys, func(a, b store.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.KID, a.KID)
	})
	return keys, nil
}

// CreateSigningKey implements store.TokenStore.
func (s *Store) CreateSigningKey(_ context.Context, k store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.signingKeys[k.KID]; dup {
		return fmt.Errorf("creating signing key: %w", store.ErrConflict)
	}
	rec := copySigningKey(&k)
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = s.now()
	} else {
		rec.CreatedAt = normTime(rec.CreatedAt)
	}
	s.signingKeys[rec.KID] = &rec
	return nil
}

// RetireSigningKey implements store.TokenStore. Retiring a retired key keeps
// its first retirement time.
func (s *Store) RetireSigningKey(_ context.Context, kid string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.signingKeys[kid]
	if !ok {
		return fmt.Errorf("retiring signing key: %w", store.ErrNotFound)
	}
	if k.RetiredAt == nil {
		k.RetiredAt = normTimePtr(&at)
	}
	return nil
}

// newFamilyID names a new refresh token family.
func newFamilyID() string { return store.NewPublicID("fam") }
