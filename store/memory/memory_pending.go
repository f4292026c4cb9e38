package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// pendingObservation is a stored turn waiting to be observed.
type pendingObservation struct {
	rec          store.PendingObservation
	claimedUntil time.Time // zero: not claimed
}

func (p *pendingObservation) free(now time.Time) bool {
	return p.claimedUntil.IsZero() || p.claimedUntil.Before(now)
}

// AddPendingObservation implements store.MemoryStore.
func (s *Store) AddPendingObservation(_ context.Context, p store.PendingObservation, maxPerUser int) (store.PendingObservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser("adding pending observation", p.UserID); err != nil {
		return store.PendingObservation{}, err
	}
	if maxPerUser > 0 {
		waiting := 0
		for _, q := range s.pending {
			if q.rec.UserID == p.UserID {
				waiting++
			}
		}
		if waiting >= maxPerUser {
			return store.PendingObservation{}, fmt.Errorf("adding pending observation: %w", store.ErrLimitReached)
		}
	}
	if s.pending == nil {
		s.pending = make(map[int64]*pendingObservation)
	}
	p.ID, p.CreatedAt, p.Attempts = s.nextID(), s.now(), 0
	s.pending[p.ID] = &pendingObservation{rec: p}
	return p, nil
}

// ClaimPendingObservation implements store.MemoryStore.
func (s *Store) ClaimPendingObservation(_ context.Context, id int64, now, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[id]
	if !ok || !p.free(now) {
		return false, nil
	}
	p.claimedUntil = until
	p.rec.Attempts++
	return true, nil
}

// ClaimPendingObservations implements store.MemoryStore.
func (s *Store) ClaimPendingObservations(_ context.Context, now, until time.Time, n int) ([]store.PendingObservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var free []*pendingObservation
	for _, p := range s.pending {
		if p.free(now) {
			free = append(free, p)
		}
	}
	sort.Slice(free, func(i, j int) bool { return free[i].rec.ID < free[j].rec.ID })
	out := []store.PendingObservation{}
	for _, p := range free[:min(n, len(free))] {
		p.claimedUntil = until
		p.rec.Attempts++
		out = append(out, p.rec)
	}
	return out, nil
}

// DeletePendingObservation implements store.MemoryStore.
func (s *Store) DeletePendingObservation(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, id)
	return nil
}

// PurgePendingObservations implements store.MemoryStore.
func (s *Store) PurgePendingObservations(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, p := range s.pending {
		if p.rec.CreatedAt.Before(before) {
			delete(s.pending, id)
			n++
		}
	}
	return n, nil
}

// deletePendingLocked drops the user's pending turns. Callers hold s.mu
// for writing.
func (s *Store) deletePendingLocked(userID int64) {
	for id, p := range s.pending {
		if p.rec.UserID == userID {
			delete(s.pending, id)
		}
	}
}
