package memory

import (
	"time"

	"github.com/caddy-llm/gateway/store"
)

// tombstone remembers where a deleted record stood in its listing, so that
// a pagination cursor naming it continues the listing (see
// store.ListOptions.After).
type tombstone struct {
	userID int64
	parent int64 // the conversation's internal id for an item, else 0
	key    int64 // the record's internal id: its place in the listing
	at     time.Time
}

// bury records the tombstone of a deleted record and drops the tombstones
// older than store.TombstoneRetention. Tombstones are buried in time order,
// so the expired ones are at the front of s.buriedOrder: a delete costs what
// expired since the last one, not a walk over every user's tombstones.
// Callers hold s.mu for writing.
func (s *Store) bury(publicID string, t tombstone) {
	t.at = s.now()
	for len(s.buriedOrder) > 0 {
		id := s.buriedOrder[0]
		if old, ok := s.tombstones[id]; ok {
			if t.at.Sub(old.at) <= store.TombstoneRetention {
				break
			}
			delete(s.tombstones, id)
		} // else gone already with its user (Purge)
		s.buriedOrder[0] = ""
		s.buriedOrder = s.buriedOrder[1:]
	}
	s.tombstones[publicID] = t
	s.buriedOrder = append(s.buriedOrder, publicID)
}

// buried returns the listing key of a deleted record of the user, under
// parent (0 for top-level listings). Callers hold s.mu.
func (s *Store) buried(userID, parent int64, publicID string) (int64, bool) {
	t, ok := s.tombstones[publicID]
	if !ok || t.userID != userID || t.parent != parent {
		return 0, false
	}
	return t.key, true
}
