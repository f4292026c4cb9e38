package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// appendItems stores copies of items at the end of the conversation and
// returns them as stored. Callers hold s.mu for writing.
func (s *Store) appendItems(c *conversation, items []store.Item, now time.Time) []store.Item {
	out := make([]store.Item, 0, len(items))
	for i := range items {
		rec := copyItem(&items[i])
		rec.ID = s.nextID()
		rec.PublicID = store.NewPublicID(store.PrefixMessage)
		rec.ConversationID = c.rec.ID
		rec.CreatedAt = now
		if rec.Type == "" {
			rec.Type = "message"
		}
		if rec.Status == "" {
			rec.Status = store.ItemStatusCompleted
		}
		c.items = append(c.items, &rec)
		c.itemByID[rec.PublicID] = &rec
		out = append(out, copyItem(&rec))
	}
	return out
}

// AppendItems implements store.ConversationStore. The conversation's
// UpdatedAt moves to the time of the append.
func (s *Store) AppendItems(_ context.Context, userID int64, convPublicID string, items []store.Item) ([]store.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.userConversation(userID, convPublicID)
	if !ok {
		return nil, fmt.Errorf("appending items: %w", store.ErrNotFound)
	}
	now := s.now()
	c.rec.UpdatedAt = now
	return s.appendItems(c, items, now), nil
}

// ListItems implements store.ConversationStore.
func (s *Store) ListItems(_ context.Context, userID int64, convPublicID string, opts store.ListOptions) (store.Page[store.Item], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.userConversation(userID, convPublicID)
	if !ok {
		return store.Page[store.Item]{}, fmt.Errorf("listing items: %w", store.ErrNotFound)
	}
	var after int64
	if opts.After != "" {
		if it, ok := c.itemByID[opts.After]; ok {
			after = it.ID
		} else if after, ok = s.buried(userID, c.rec.ID, opts.After); !ok {
			return store.Page[store.Item]{}, fmt.Errorf("listing items: %w", store.ErrInvalidCursor)
		}
	}
	return page(c.items, itemID, opts, after, opts.After != "", copyItem, (*store.Item).Size)
}

func itemID(it *store.Item) int64 { return it.ID }

// GetItem implements store.ConversationStore.
func (s *Store) GetItem(_ context.Context, userID int64, convPublicID, itemPublicID string) (store.Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.userConversation(userID, convPublicID)
	if !ok {
		return store.Item{}, fmt.Errorf("getting item: conversation: %w", store.ErrNotFound)
	}
	it, ok := c.itemByID[itemPublicID]
	if !ok {
		return store.Item{}, fmt.Errorf("getting item: %w", store.ErrNotFound)
	}
	return copyItem(it), nil
}

// DeleteItem implements store.ConversationStore.
func (s *Store) DeleteItem(_ context.Context, userID int64, convPublicID, itemPublicID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.userConversation(userID, convPublicID)
	if !ok {
		return fmt.Errorf("deleting item: conversation: %w", store.ErrNotFound)
	}
	it, ok := c.itemByID[itemPublicID]
	if !ok {
		return fmt.Errorf("deleting item: %w", store.ErrNotFound)
	}
	delete(c.itemByID, itemPublicID)
	s.bury(itemPublicID, tombstone{userID: userID, parent: c.rec.ID, key: it.ID})
	c.items = slices.DeleteFunc(c.items, func(x *store.Item) bool { return x == it })
	return nil
}
