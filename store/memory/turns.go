package memory

import (
	"context"
	"fmt"

	"github.com/caddy-llm/gateway/store"
)

// StartTurn implements store.TurnStore.
func (s *Store) StartTurn(_ context.Context, userID int64, convPublicID string, t store.TurnStart) (store.TurnContext, error) {
	var tc store.TurnContext
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.userConversation(userID, convPublicID)
	if !ok {
		return tc, fmt.Errorf("starting a turn: %w", store.ErrNotFound)
	}
	if t.Write {
		now := s.now()
		if t.User != nil {
			c.rec.UpdatedAt = now
			s.appendItems(c, []store.Item{*t.User}, now)
		}
		if c.rec.Title == "" && t.Title != "" {
			c.rec.Title = t.Title
			c.rec.UpdatedAt = now
		}
	}
	tc.Conversation = s.conversationRecord(c)
	if id := tc.Conversation.ProjectPublicID; id != "" {
		if p, ok := s.userProject(userID, id); ok {
			tc.Instruction = p.Instruction
		}
	}
	if cur, ok := s.settings[userID]; ok {
		us, err := copySettings(cur)
		if err != nil {
			return store.TurnContext{}, fmt.Errorf("starting a turn: %w", err)
		}
		tc.Settings, tc.HasSettings = us, true
	}
	return tc, nil
}
