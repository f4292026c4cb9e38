package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// CreateConversation implements store.ConversationStore.
func (s *Store) CreateConversation(_ context.Context, c store.Conversation, items []store.Item) (store.Conversation, []store.Item, error) {
	const op = "creating conversation"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser(op, c.UserID); err != nil {
		return store.Conversation{}, nil, err
	}
	var projectID int64
	if c.ProjectPublicID != "" {
		p, ok := s.userProject(c.UserID, c.ProjectPublicID)
		if !ok {
			return store.Conversation{}, nil, fmt.Errorf("%s: project: %w", op, store.ErrNotFound)
		}
		projectID = p.ID
	}
	if c.PublicID == "" {
		c.PublicID = store.NewPublicID(store.PrefixConversation)
	} else if _, dup := s.conversationByPublicID[c.PublicID]; dup {
		return store.Conversation{}, nil, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	now := s.now()
	conv := &conversation{
		rec:       c,
		projectID: projectID,
		itemByID:  make(map[string]*store.Item),
	}
	conv.rec.ID = s.nextID()
	conv.rec.Metadata = copyMetadata(c.Metadata)
	conv.rec.CreatedAt, conv.rec.UpdatedAt = now, now
	added := s.appendItems(conv, items, now)
	s.conversationByPublicID[conv.rec.PublicID] = conv
	s.conversationsByUser[c.UserID] = append(s.conversationsByUser[c.UserID], conv)
	return s.conversationRecord(conv), added, nil
}

// conversationRecord returns a copy of the conversation's record with its
// project's public id. Callers hold s.mu.
func (s *Store) conversationRecord(c *conversation) store.Conversation {
	rec := c.rec
	rec.Metadata = copyMetadata(c.rec.Metadata)
	rec.ProjectPublicID = ""
	if p, ok := s.projectByID[c.projectID]; ok {
		rec.ProjectPublicID = p.PublicID
	}
	return rec
}

// userConversation returns the user's conversation with the public id.
// Callers hold s.mu.
func (s *Store) userConversation(userID int64, publicID string) (*conversation, bool) {
	c, ok := s.conversationByPublicID[publicID]
	if !ok || c.rec.UserID != userID {
		return nil, false
	}
	return c, true
}

// GetConversation implements store.ConversationStore.
func (s *Store) GetConversation(_ context.Context, userID int64, publicID string) (store.Conversation, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.userConversation(userID, publicID)
	if !ok {
		return store.Conversation{}, fmt.Errorf("getting conversation: %w", store.ErrNotFound)
	}
	return s.conversationRecord(c), nil
}

// ListConversations implements store.ConversationStore.
func (s *Store) ListConversations(_ context.Context, userID int64, opts store.ListOptions) (store.Page[store.Conversation], int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := s.conversationsByUser[userID]
	var after int64
	if opts.After != "" {
		if c, ok := s.userConversation(userID, opts.After); ok {
			after = c.rec.ID
		} else if after, ok = s.buried(userID, 0, opts.After); !ok {
			return store.Page[store.Conversation]{}, 0, fmt.Errorf("listing conversations: %w", store.ErrInvalidCursor)
		}
	}
	p, err := page(all, conversationID, opts, after, opts.After != "", s.conversationRecord, (*store.Conversation).Size)
	if err != nil {
		return store.Page[store.Conversation]{}, 0, err
	}
	return p, len(all), nil
}

func conversationID(c *conversation) int64 { return c.rec.ID }

// UpdateConversation implements store.ConversationStore.
func (s *Store) UpdateConversation(_ context.Context, userID int64, publicID string, patch store.ConversationPatch, now time.Time) (store.Conversation, error) {
	const op = "updating conversation"
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.userConversation(userID, publicID)
	if !ok {
		return store.Conversation{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	projectID := c.projectID
	if patch.ProjectPublicID != nil {
		projectID = 0
		if *patch.ProjectPublicID != "" {
			p, ok := s.userProject(userID, *patch.ProjectPublicID)
			if !ok {
				return store.Conversation{}, fmt.Errorf("%s: project: %w", op, store.ErrNotFound)
			}
			projectID = p.ID
		}
	}
	c.projectID = projectID
	if patch.Title != nil {
		c.rec.Title = *patch.Title
	}
	if patch.Archived != nil {
		c.rec.Archived = *patch.Archived
	}
	if patch.Metadata != nil {
		c.rec.Metadata = copyMetadata(patch.Metadata)
	}
	c.rec.UpdatedAt = normTime(now)
	return s.conversationRecord(c), nil
}

// DeleteConversation implements store.ConversationStore.
func (s *Store) DeleteConversation(_ context.Context, userID int64, publicID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.userConversation(userID, publicID)
	if !ok {
		return fmt.Errorf("deleting conversation: %w", store.ErrNotFound)
	}
	delete(s.conversationByPublicID, publicID)
	s.bury(publicID, tombstone{userID: userID, key: c.rec.ID})
	s.conversationsByUser[userID] = slices.DeleteFunc(s.conversationsByUser[userID], func(d *conversation) bool { return d == c })
	return nil
}

// SetConversationTitleIfEmpty implements store.ConversationStore.
func (s *Store) SetConversationTitleIfEmpty(_ context.Context, userID int64, publicID string, title string) (store.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.userConversation(userID, publicID)
	if !ok {
		return store.Conversation{}, fmt.Errorf("setting conversation title: %w", store.ErrNotFound)
	}
	if c.rec.Title == "" && title != "" {
		c.rec.Title = title
		c.rec.UpdatedAt = s.now()
	}
	return s.conversationRecord(c), nil
}
