package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// MergeGuest implements store.UserStore. It holds the settings locks of
// both users (as UpdateSettings does) and then s.mu, so that the move is
// atomic for every reader and writer.
func (s *Store) MergeGuest(_ context.Context, guestID, userID int64, now time.Time) (store.GuestMerge, error) {
	const op = "merging guest"
	a := &s.settingsLocks[uint64(guestID)%uint64(len(s.settingsLocks))]
	b := &s.settingsLocks[uint64(userID)%uint64(len(s.settingsLocks))]
	if uint64(guestID)%uint64(len(s.settingsLocks)) > uint64(userID)%uint64(len(s.settingsLocks)) {
		a, b = b, a
	}
	a.Lock()
	defer a.Unlock()
	if b != a {
		b.Lock()
		defer b.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	guest, ok := s.users[guestID]
	if !ok {
		return store.GuestMerge{}, fmt.Errorf("%s: guest: %w", op, store.ErrNotFound)
	}
	user, ok := s.users[userID]
	if !ok {
		return store.GuestMerge{}, fmt.Errorf("%s: user: %w", op, store.ErrNotFound)
	}
	if guest.Kind != store.UserKindGuest || user.Kind != store.UserKindUser {
		return store.GuestMerge{}, fmt.Errorf("%s: only a guest merges into a signed-in user: %w", op, store.ErrConflict)
	}
	var res store.GuestMerge
	stamp := s.now()

	// Projects: renamed where the user already has the name.
	for _, p := range s.projectsByUser[guestID] {
		if s.projectNameTaken(userID, p.Name, 0) {
			for n := 1; ; n++ {
				if name := store.GuestProjectName(p.Name, n); !s.projectNameTaken(userID, name, 0) {
					p.Name = name
					break
				}
			}
			p.UpdatedAt = stamp
			res.RenamedProjects++
		}
		p.UserID = userID
		s.projectsByUser[userID] = append(s.projectsByUser[userID], p)
		res.Projects++
	}
	delete(s.projectsByUser, guestID)
	sort.Slice(s.projectsByUser[userID], func(i, j int) bool {
		return s.projectsByUser[userID][i].ID < s.projectsByUser[userID][j].ID
	})

	// Conversations, with their items.
	for _, c := range s.conversationsByUser[guestID] {
		c.rec.UserID = userID
		s.conversationsByUser[userID] = append(s.conversationsByUser[userID], c)
		res.Conversations++
	}
	delete(s.conversationsByUser, guestID)
	sort.Slice(s.conversationsByUser[userID], func(i, j int) bool {
		return s.conversationsByUser[userID][i].rec.ID < s.conversationsByUser[userID][j].rec.ID
	})
	s.moveResponses(guestID, userID)

	// Settings: the user's own win.
	if gs, ok := s.settings[guestID]; ok {
		if _, has := s.settings[userID]; !has {
			gs.UserID = userID
			gs.UpdatedAt = stamp
			s.settings[userID] = gs
			res.Settings = true
		}
		delete(s.settings, guestID)
	}

	s.mergeMemoryItemsLocked(guestID, userID) // memory_items.go

	for id, t := range s.tombstones {
		if t.userID == guestID {
			t.userID = userID
			s.tombstones[id] = t
		}
	}

	// The guest's sessions end.
	at := normTime(now)
	for _, t := range s.refreshByHash {
		if t.UserID == guestID && t.RevokedAt == nil {
			revoked := at
			t.RevokedAt = &revoked
		}
	}
	return res, nil
}
