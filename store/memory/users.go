package memory

import (
	"context"
	"fmt"

	"github.com/caddy-llm/gateway/store"
)

// UpsertUser implements store.UserStore.
func (s *Store) UpsertUser(_ context.Context, u store.User) (store.User, error) {
	if u.Kind != "" && u.Kind != store.UserKindUser && u.Kind != store.UserKindGuest {
		return store.User{}, fmt.Errorf("upserting user: invalid kind %q", u.Kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := identity{u.Issuer, u.Subject}
	if cur, ok := s.userByIdentity[key]; ok {
		changed := false
		update := func(dst *string, v string) {
			if v != "" && v != *dst {
				*dst = v
				changed = true
			}
		}
		update(&cur.Username, u.Username)
		update(&cur.Email, u.Email)
		update(&cur.Name, u.Name)
		update(&cur.Kind, u.Kind)
		if changed {
			cur.UpdatedAt = s.now()
		}
		return *cur, nil
	}
	if u.Kind == "" {
		u.Kind = store.UserKindUser
	}
	now := s.now()
	rec := &store.User{
		ID:        s.nextID(),
		PublicID:  store.NewPublicID(store.PrefixUser),
		Issuer:    u.Issuer,
		Subject:   u.Subject,
		Kind:      u.Kind,
		Username:  u.Username,
		Email:     u.Email,
		Name:      u.Name,
		CreatedAt: now,
		UpdatedAt: now,
	}
	s.users[rec.ID] = rec
	s.userByIdentity[key] = rec
	s.userByPublicID[rec.PublicID] = rec
	return *rec, nil
}

// GetUser implements store.UserStore.
func (s *Store) GetUser(_ context.Context, id int64) (store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return store.User{}, fmt.Errorf("getting user: %w", store.ErrNotFound)
	}
	return *u, nil
}

// GetUserByPublicID implements store.UserStore.
func (s *Store) GetUserByPublicID(_ context.Context, publicID string) (store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.userByPublicID[publicID]
	if !ok {
		return store.User{}, fmt.Errorf("getting user: %w", store.ErrNotFound)
	}
	return *u, nil
}
