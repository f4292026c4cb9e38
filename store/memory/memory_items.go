package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// memoryItems are the users' memory items (store.MemoryStore), guarded by
// s.mu. Its maps are made on the first write.
type memoryItems struct {
	byUser     map[int64][]*store.MemoryItem // ascending ID, which is ascending (CreatedAt, ID)
	byPublicID map[string]*store.MemoryItem
}

func copyMemoryItem(it *store.MemoryItem) store.MemoryItem {
	out := *it
	out.Embedding = slices.Clone(it.Embedding)
	return out
}

// listedMemoryItem is an item as listings return it: without its vector.
func listedMemoryItem(it *store.MemoryItem) store.MemoryItem {
	out := *it
	out.Embedding = nil
	return out
}

// validMemoryItem applies the rules store/postgres's CHECK constraints do.
func validMemoryItem(it *store.MemoryItem) error {
	switch it.Kind {
	case store.MemoryKindUser, store.MemoryKindProject, store.MemoryKindEpisodic:
	default:
		return fmt.Errorf("kind %q: %w", it.Kind, store.ErrInvalidValue)
	}
	switch it.Source {
	case store.MemorySourceObserved, store.MemorySourceManual:
	default:
		return fmt.Errorf("source %q: %w", it.Source, store.ErrInvalidValue)
	}
	return nil
}

// CreateMemoryItem implements store.MemoryStore.
func (s *Store) CreateMemoryItem(_ context.Context, it store.MemoryItem, maxPerUser int) (store.MemoryItem, error) {
	const op = "creating memory item"
	if err := validMemoryItem(&it); err != nil {
		return store.MemoryItem{}, fmt.Errorf("%s: %w", op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser(op, it.UserID); err != nil {
		return store.MemoryItem{}, err
	}
	m := &s.memory
	if m.byUser == nil {
		m.byUser = make(map[int64][]*store.MemoryItem)
		m.byPublicID = make(map[string]*store.MemoryItem)
	}
	items := m.byUser[it.UserID]
	if maxPerUser > 0 && len(items) >= maxPerUser {
		i := -1
		if it.Kind == store.MemoryKindEpisodic {
			i = slices.IndexFunc(items, func(o *store.MemoryItem) bool { return o.Kind == store.MemoryKindEpisodic })
		}
		if i < 0 {
			return store.MemoryItem{}, fmt.Errorf("%s: %w", op, store.ErrLimitReached)
		}
		delete(m.byPublicID, items[i].PublicID)
		items = slices.Delete(items, i, i+1)
	}
	now := s.now()
	rec := copyMemoryItem(&it)
	rec.ID = s.nextID()
	if rec.PublicID == "" {
		rec.PublicID = store.NewPublicID(store.PrefixMemory)
	}
	if _, taken := m.byPublicID[rec.PublicID]; taken {
		return store.MemoryItem{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	rec.CreatedAt, rec.UpdatedAt = now, now
	m.byUser[it.UserID] = append(items, &rec)
	m.byPublicID[rec.PublicID] = &rec
	return copyMemoryItem(&rec), nil
}

// memoryItem returns the user's item. Callers hold s.mu.
func (s *Store) memoryItem(userID int64, publicID string) (*store.MemoryItem, bool) {
	it, ok := s.memory.byPublicID[publicID]
	if !ok || it.UserID != userID {
		return nil, false
	}
	return it, true
}

// GetMemoryItem implements store.MemoryStore.
func (s *Store) GetMemoryItem(_ context.Context, userID int64, publicID string) (store.MemoryItem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, ok := s.memoryItem(userID, publicID)
	if !ok {
		return store.MemoryItem{}, fmt.Errorf("getting memory item: %w", store.ErrNotFound)
	}
	return copyMemoryItem(it), nil
}

// ListMemoryItems implements store.MemoryStore.
func (s *Store) ListMemoryItems(_ context.Context, userID int64, f store.MemoryFilter, opts store.ListOptions) (store.Page[store.MemoryItem], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var after int64
	if opts.After != "" {
		cur, ok := s.memoryItem(userID, opts.After)
		if !ok {
			return store.Page[store.MemoryItem]{}, fmt.Errorf("listing memory items: %w", store.ErrInvalidCursor)
		}
		after = cur.ID
	}
	var matching []*store.MemoryItem
	for _, it := range s.memory.byUser[userID] {
		if (f.Kind == "" || it.Kind == f.Kind) && (f.ProjectPublicID == "" || it.ProjectPublicID == f.ProjectPublicID) {
			matching = append(matching, it)
		}
	}
	return page(matching, func(it *store.MemoryItem) int64 { return it.ID }, opts, after, opts.After != "",
		listedMemoryItem, (*store.MemoryItem).Size)
}

// MemoryVectors implements store.MemoryStore.
func (s *Store) MemoryVectors(_ context.Context, userID int64, max int) ([]store.MemoryItem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	items := s.memory.byUser[userID] // oldest first
	if max > 0 && len(items) > max {
		items = items[len(items)-max:]
	}
	out := make([]store.MemoryItem, len(items))
	for i, it := range items {
		out[i] = copyMemoryItem(it)
	}
	return out, nil
}

// MemoryStamp implements store.MemoryStore.
func (s *Store) MemoryStamp(_ context.Context, userID int64) (store.MemoryStamp, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var st store.MemoryStamp
	for _, it := range s.memory.byUser[userID] {
		st.Count++
		st.MaxID = max(st.MaxID, it.ID)
		if it.UpdatedAt.After(st.UpdatedAt) {
			st.UpdatedAt = it.UpdatedAt
		}
	}
	return st, nil
}

// UpdateMemoryItem implements store.MemoryStore.
func (s *Store) UpdateMemoryItem(_ context.Context, userID int64, publicID string, patch store.MemoryPatch, now time.Time) (store.MemoryItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.memoryItem(userID, publicID)
	if !ok {
		return store.MemoryItem{}, fmt.Errorf("updating memory item: %w", store.ErrNotFound)
	}
	if patch.Text != nil {
		it.Text = *patch.Text
		it.Embedding = slices.Clone(patch.Embedding)
	} else if patch.Embedding != nil {
		it.Embedding = slices.Clone(patch.Embedding)
	}
	if patch.EmbeddingModel != nil {
		it.EmbeddingModel = *patch.EmbeddingModel
	}
	// Never earlier than the store's clock, so that the stamp moves.
	it.UpdatedAt = normTime(now)
	if clock := s.now(); clock.After(it.UpdatedAt) {
		it.UpdatedAt = clock
	}
	return copyMemoryItem(it), nil
}

// DeleteMemoryItem implements store.MemoryStore.
func (s *Store) DeleteMemoryItem(_ context.Context, userID int64, publicID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.memoryItem(userID, publicID)
	if !ok {
		return fmt.Errorf("deleting memory item: %w", store.ErrNotFound)
	}
	delete(s.memory.byPublicID, publicID)
	s.memory.byUser[userID] = slices.DeleteFunc(s.memory.byUser[userID], func(o *store.MemoryItem) bool { return o == it })
	return nil
}

// DeleteMemoryItems implements store.MemoryStore.
func (s *Store) DeleteMemoryItems(_ context.Context, userID int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteMemoryItemsLocked(userID), nil
}

// deleteMemoryItemsLocked drops every item of the user. Callers hold s.mu
// for writing.
func (s *Store) deleteMemoryItemsLocked(userID int64) int64 {
	items := s.memory.byUser[userID]
	for _, it := range items {
		delete(s.memory.byPublicID, it.PublicID)
	}
	delete(s.memory.byUser, userID)
	s.deletePendingLocked(userID)
	return int64(len(items))
}

// mergeMemoryItemsLocked gives the guest's memory items to the user (see
// store.UserStore.MergeGuest). Callers hold s.mu for writing.
func (s *Store) mergeMemoryItemsLocked(guestID, userID int64) {
	moved := s.memory.byUser[guestID]
	if len(moved) == 0 {
		return
	}
	now := s.now()
	for _, it := range moved {
		it.UserID, it.UpdatedAt = userID, now
	}
	merged := append(s.memory.byUser[userID], moved...)
	slices.SortFunc(merged, func(a, b *store.MemoryItem) int { return cmp.Compare(a.ID, b.ID) })
	s.memory.byUser[userID] = merged
	delete(s.memory.byUser, guestID)
}
