package memory

import (
	"testing"

	"github.com/caddy-llm/gateway/store"
)

// Expired tombstones are dropped by the next burial, whoever's they are, and
// the ones still within store.TombstoneRetention keep their place.
func TestBuryDropsExpiredTombstones(t *testing.T) {
	s := New()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bury("conv_a", tombstone{userID: 1, key: 1})
	s.bury("conv_b", tombstone{userID: 2, key: 2})
	s.bury("conv_c", tombstone{userID: 1, key: 3})
	// a and b age past the retention; c stays recent.
	for _, id := range []string{"conv_a", "conv_b"} {
		old := s.tombstones[id]
		old.at = old.at.Add(-store.TombstoneRetention - 1)
		s.tombstones[id] = old
	}
	delete(s.tombstones, "conv_c") // gone with its user meanwhile
	s.bury("conv_d", tombstone{userID: 3, key: 4})

	for _, id := range []string{"conv_a", "conv_b", "conv_c"} {
		if _, ok := s.tombstones[id]; ok {
			t.Errorf("tombstone %s kept after it expired or was purged", id)
		}
	}
	if key, ok := s.buried(3, 0, "conv_d"); !ok || key != 4 {
		t.Errorf("buried(conv_d) = %d, %v; want 4, true", key, ok)
	}
	if len(s.buriedOrder) != 1 || s.buriedOrder[0] != "conv_d" {
		t.Errorf("burial order = %v, want [conv_d]", s.buriedOrder)
	}
}
