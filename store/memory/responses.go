package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// responseTable holds stored responses by public id, and each user's in
// creation order (for deleting a user's).
type responseTable struct {
	byPublicID map[string]*store.Response
	byUser     map[int64][]string
}

// CreateResponse implements store.ResponseStore.
func (s *Store) CreateResponse(_ context.Context, r store.Response) (store.Response, error) {
	const op = "creating response"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser(op, r.UserID); err != nil {
		return store.Response{}, err
	}
	if s.responses.byPublicID == nil {
		s.responses.byPublicID = make(map[string]*store.Response)
		s.responses.byUser = make(map[int64][]string)
	}
	if r.PublicID == "" {
		r.PublicID = store.NewPublicID(store.PrefixResponse)
	} else if _, dup := s.responses.byPublicID[r.PublicID]; dup {
		return store.Response{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	if _, ok := s.userConversation(r.UserID, r.ConversationID); !ok {
		r.ConversationID = ""
	}
	rec := copyResponse(&r)
	rec.ID = s.nextID()
	rec.CreatedAt = s.now()
	s.responses.byPublicID[rec.PublicID] = &rec
	s.responses.byUser[r.UserID] = append(s.responses.byUser[r.UserID], rec.PublicID)
	return s.responseRecord(&rec), nil
}

// GetResponse implements store.ResponseStore.
func (s *Store) GetResponse(_ context.Context, userID int64, publicID string) (store.Response, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.userResponse(userID, publicID)
	if !ok {
		return store.Response{}, fmt.Errorf("getting response: %w", store.ErrNotFound)
	}
	return s.responseRecord(r), nil
}

// ResponseChain implements store.ResponseStore.
func (s *Store) ResponseChain(_ context.Context, userID int64, publicID string, max, maxBytes int) ([]store.Response, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.userResponse(userID, publicID)
	if !ok {
		return nil, fmt.Errorf("reading a response chain: %w", store.ErrNotFound)
	}
	var chain []store.Response
	total := 0
	for ok && len(chain) < max {
		total += len(r.Body) + len(r.Input)
		if len(chain) > 0 && total > maxBytes {
			break
		}
		chain = append(chain, s.responseRecord(r))
		r, ok = s.userResponse(userID, r.PreviousResponseID)
	}
	slices.Reverse(chain)
	return chain, nil
}

// DeleteResponse implements store.ResponseStore.
func (s *Store) DeleteResponse(_ context.Context, userID int64, publicID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.userResponse(userID, publicID); !ok {
		return fmt.Errorf("deleting response: %w", store.ErrNotFound)
	}
	s.deleteResponse(userID, publicID)
	return nil
}

// PurgeResponses implements store.ResponseStore.
func (s *Store) PurgeResponses(_ context.Context, createdBefore time.Time, _ int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, r := range s.responses.byPublicID {
		if r.CreatedAt.Before(createdBefore) {
			s.deleteResponse(r.UserID, id)
			n++
		}
	}
	return n, nil
}

// userResponse returns the user's response. Callers hold s.mu.
func (s *Store) userResponse(userID int64, publicID string) (*store.Response, bool) {
	r, ok := s.responses.byPublicID[publicID]
	if !ok || r.UserID != userID {
		return nil, false
	}
	return r, true
}

// deleteResponse drops a response. Callers hold s.mu for writing.
func (s *Store) deleteResponse(userID int64, publicID string) {
	delete(s.responses.byPublicID, publicID)
	ids := s.responses.byUser[userID]
	if i := slices.Index(ids, publicID); i >= 0 {
		s.responses.byUser[userID] = slices.Delete(ids, i, i+1)
	}
}

// deleteUserResponses drops everything a deleted user's responses held, as
// the foreign key's ON DELETE CASCADE does in PostgreSQL. Callers hold s.mu
// for writing.
func (s *Store) deleteUserResponses(userID int64) {
	for _, id := range s.responses.byUser[userID] {
		delete(s.responses.byPublicID, id)
	}
	delete(s.responses.byUser, userID)
}

// moveResponses gives a guest's responses to the user it merges into
// (store.UserStore.MergeGuest). Callers hold s.mu for writing.
func (s *Store) moveResponses(guestID, userID int64) {
	for _, id := range s.responses.byUser[guestID] {
		s.responses.byPublicID[id].UserID = userID
		s.responses.byUser[userID] = append(s.responses.byUser[userID], id)
	}
	delete(s.responses.byUser, guestID)
}

// responseRecord returns a copy of r whose conversation is named only
// while it exists and is the user's (ON DELETE SET NULL in PostgreSQL).
// Callers hold s.mu.
func (s *Store) responseRecord(r *store.Response) store.Response {
	c := copyResponse(r)
	if _, ok := s.userConversation(r.UserID, r.ConversationID); !ok {
		c.ConversationID = ""
	}
	return c
}

func copyResponse(r *store.Response) store.Response {
	c := *r
	c.Body = bytes.Clone(r.Body)
	c.Input = bytes.Clone(r.Input)
	c.ConversationItemIDs = slices.Clone(r.ConversationItemIDs)
	if c.ConversationItemIDs == nil {
		c.ConversationItemIDs = []string{}
	}
	return c
}
