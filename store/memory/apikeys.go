package memory

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// CreateAPIKey implements store.APIKeyStore.
func (s *Store) CreateAPIKey(_ context.Context, k store.APIKey, maxActive int) (store.APIKey, error) {
	const op = "creating API key"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser(op, k.UserID); err != nil {
		return store.APIKey{}, err
	}
	if maxActive > 0 {
		active := 0
		for _, rec := range s.apiKeysByUser[k.UserID] {
			if rec.RevokedAt == nil {
				active++
			}
		}
		if active >= maxActive {
			return store.APIKey{}, fmt.Errorf("%s: %w", op, store.ErrLimitReached)
		}
	}
	if _, dup := s.apiKeyByHash[string(k.Hash)]; dup {
		return store.APIKey{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	if k.PublicID == "" {
		k.PublicID = store.NewPublicID(store.PrefixAPIKey)
	} else if _, dup := s.apiKeyByPublicID[k.PublicID]; dup {
		return store.APIKey{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	rec := copyAPIKey(&k)
	rec.ID = s.nextID()
	rec.RevokedAt, rec.LastUsedAt = nil, nil // a new key is live and unused, as in store/postgres
	rec.CreatedAt = s.now()
	s.apiKeys[rec.ID] = &rec
	s.apiKeyByHash[string(rec.Hash)] = &rec
	s.apiKeyByPublicID[rec.PublicID] = &rec
	s.apiKeysByUser[rec.UserID] = append(s.apiKeysByUser[rec.UserID], &rec)
	return copyAPIKey(&rec), nil
}

// ListAPIKeys implements store.APIKeyStore.
func (s *Store) ListAPIKeys(_ context.Context, userID int64) ([]store.APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := s.apiKeysByUser[userID]
	keys := make([]store.APIKey, 0, len(all))
	for i := len(all) - 1; i >= 0; i-- { // newest first
		if all[i].RevokedAt == nil {
			keys = append(keys, copyAPIKey(all[i]))
		}
	}
	return keys, nil
}

// RevokeAPIKey implements store.APIKeyStore.
func (s *Store) RevokeAPIKey(_ context.Context, userID int64, publicID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.apiKeyByPublicID[publicID]
	if !ok || k.UserID != userID || k.RevokedAt != nil {
		return fmt.Errorf("revoking API key: %w", store.ErrNotFound)
	}
	k.RevokedAt = normTimePtr(&at)
	return nil
}

// GetAPIKeyByHash implements store.APIKeyStore.
func (s *Store) GetAPIKeyByHash(_ context.Context, hash []byte) (store.APIKey, store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.apiKeyByHash[string(hash)]
	if !ok {
		return store.APIKey{}, store.User{}, fmt.Errorf("getting API key: %w", store.ErrNotFound)
	}
	u, ok := s.users[k.UserID]
	if !ok {
		return store.APIKey{}, store.User{}, fmt.Errorf("getting API key: user: %w", store.ErrNotFound)
	}
	return copyAPIKey(k), *u, nil
}

// ListAPIKeysRevokedSince implements store.APIKeyStore.
func (s *Store) ListAPIKeysRevokedSince(_ context.Context, since time.Time) ([][]byte, error) {
	since = normTime(since)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var hashes [][]byte
	for _, k := range s.apiKeys {
		if k.RevokedAt != nil && !k.RevokedAt.Before(since) {
			hashes = append(hashes, bytes.Clone(k.Hash))
		}
	}
	return hashes, nil
}

// TouchAPIKeys implements store.APIKeyStore. Unknown ids are ignored: a key
// may have been deleted with its user since it was used.
func (s *Store) TouchAPIKeys(_ context.Context, lastUsed map[int64]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, at := range lastUsed {
		k, ok := s.apiKeys[id]
		if !ok {
			continue
		}
		at = normTime(at)
		if k.LastUsedAt == nil || k.LastUsedAt.Before(at) {
			k.LastUsedAt = &at
		}
	}
	return nil
}
