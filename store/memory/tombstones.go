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
// older than store.TombstoneRetention. Callers hold s.mu for writing.
func (s *Store) bury(publicID string, t tombstone) {
	t.at = s.now()
	for id, old := range s.tombstones {
		if t.at.Sub(old.at) > store.TombstoneRetention {
			delete(s.tombstones, id)
		}
	}
	s.tombstones[publicID] = t
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
