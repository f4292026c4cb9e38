package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/caddy-llm/gateway/store"
)

type usageLimitKey struct{ userID, apiKeyID int64 }

// GetUsageLimits implements store.UsageLimitStore.
func (s *Store) GetUsageLimits(_ context.Context, userID, apiKeyID int64) (store.UsageLimits, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.usage.limits[usageLimitKey{userID, apiKeyID}]
	if !ok {
		return store.UsageLimits{}, fmt.Errorf("getting usage limits: %w", store.ErrNotFound)
	}
	l.Models = slices.Clone(l.Models)
	return l, nil
}

// PutUsageLimits implements store.UsageLimitStore.
func (s *Store) PutUsageLimits(_ context.Context, userID, apiKeyID int64, l store.UsageLimits) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[userID]; !ok {
		return fmt.Errorf("setting usage limits: %w", store.ErrNotFound)
	}
	if apiKeyID != 0 {
		if k, ok := s.apiKeys[apiKeyID]; !ok || k.UserID != userID {
			return fmt.Errorf("setting usage limits: %w", store.ErrNotFound)
		}
	}
	if s.usage.limits == nil {
		s.usage.limits = make(map[usageLimitKey]store.UsageLimits)
	}
	l.Models = slices.Clone(l.Models)
	s.usage.limits[usageLimitKey{userID, apiKeyID}] = l
	return nil
}

// DeleteUsageLimits implements store.UsageLimitStore.
func (s *Store) DeleteUsageLimits(_ context.Context, userID, apiKeyID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := usageLimitKey{userID, apiKeyID}
	if _, ok := s.usage.limits[k]; !ok {
		return fmt.Errorf("deleting usage limits: %w", store.ErrNotFound)
	}
	delete(s.usage.limits, k)
	return nil
}
