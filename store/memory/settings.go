package memory

import (
	"context"
	"fmt"

	"github.com/caddy-llm/gateway/store"
)

// GetSettings implements store.SettingsStore.
func (s *Store) GetSettings(_ context.Context, userID int64) (store.UserSettings, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cur, ok := s.settings[userID]
	if !ok {
		return store.UserSettings{}, fmt.Errorf("getting settings: %w", store.ErrNotFound)
	}
	out, err := copySettings(cur)
	if err != nil {
		return store.UserSettings{}, fmt.Errorf("getting settings: %w", err)
	}
	return out, nil
}

// UpdateSettings implements store.SettingsStore. Updates of one user are
// serialised by a per-user lock rather than s.mu, so apply never runs while
// the whole store is locked.
func (s *Store) UpdateSettings(_ context.Context, userID int64, defaults store.UserSettings, apply func(*store.UserSettings) error) (store.UserSettings, error) {
	const op = "updating settings"
	userLock := &s.settingsLocks[uint64(userID)%uint64(len(s.settingsLocks))]
	userLock.Lock()
	defer userLock.Unlock()

	s.mu.RLock()
	err := s.requireUser(op, userID)
	cur, stored := s.settings[userID]
	var next store.UserSettings
	if err == nil {
		if stored {
			next, err = copySettings(cur)
		} else {
			next, err = copySettings(&defaults)
			next.ID, next.UserID = 0, userID
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return store.UserSettings{}, err
	}

	if err := apply(&next); err != nil {
		return store.UserSettings{}, err
	}

	// apply may not change who the settings belong to or when they were
	// made; copy them in so it cannot keep references into the store.
	rec, err := copySettings(&next)
	if err != nil {
		return store.UserSettings{}, fmt.Errorf("%s: encoding preferences: %w", op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec.UserID = userID
	if stored {
		rec.ID, rec.CreatedAt = cur.ID, cur.CreatedAt
	} else {
		rec.ID, rec.CreatedAt = s.nextID(), now
	}
	rec.UpdatedAt = now
	s.settings[userID] = &rec
	out, err := copySettings(&rec)
	if err != nil {
		return store.UserSettings{}, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}
