package memory

import (
	"context"
	"slices"

	"github.com/caddy-llm/gateway/store"
)

// Purge implements store.RetentionStore. One process holds the store, so
// the store's lock is all the exclusion it needs.
func (s *Store) Purge(_ context.Context, p store.RetentionPolicy) (store.RetentionResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res store.RetentionResult
	if !p.TokensExpiredBefore.IsZero() {
		for hash, t := range s.refreshByHash {
			if t.ExpiresAt.Before(p.TokensExpiredBefore) {
				s.deleteRefreshToken(hash, t)
				res.RefreshTokens++
			}
		}
	}
	if !p.GuestsIdleSince.IsZero() {
		active := make(map[int64]bool)
		for _, t := range s.refreshByHash {
			if !t.CreatedAt.Before(p.GuestsIdleSince) {
				active[t.UserID] = true
			}
		}
		for id, u := range s.users {
			if u.Kind == store.UserKindGuest && u.CreatedAt.Before(p.GuestsIdleSince) && !active[id] {
				s.deleteUser(u)
				res.Guests++
			}
		}
	}
	return res, nil
}

// deleteRefreshToken drops one token. Callers hold s.mu for writing.
func (s *Store) deleteRefreshToken(hash string, t *store.RefreshToken) {
	delete(s.refreshByHash, hash)
	fam := slices.DeleteFunc(s.refreshByFamily[t.FamilyID], func(o *store.RefreshToken) bool { return o == t })
	if len(fam) == 0 {
		delete(s.refreshByFamily, t.FamilyID)
	} else {
		s.refreshByFamily[t.FamilyID] = fam
	}
}

// deleteUser drops a user and everything it owns, as ON DELETE CASCADE does
// in store/postgres. Callers hold s.mu for writing.
func (s *Store) deleteUser(u *store.User) {
	id := u.ID
	for hash, t := range s.refreshByHash {
		if t.UserID == id {
			s.deleteRefreshToken(hash, t)
		}
	}
	for _, k := range s.apiKeysByUser[id] {
		delete(s.apiKeys, k.ID)
		delete(s.apiKeyByHash, string(k.Hash))
		delete(s.apiKeyByPublicID, k.PublicID)
	}
	delete(s.apiKeysByUser, id)
	for _, p := range s.projectsByUser[id] {
		delete(s.projectByID, p.ID)
		delete(s.projectByPublicID, p.PublicID)
	}
	delete(s.projectsByUser, id)
	for _, c := range s.conversationsByUser[id] {
		delete(s.conversationByPublicID, c.rec.PublicID)
	}
	delete(s.conversationsByUser, id)
	delete(s.settings, id)
	s.deleteUserResponses(id)
	s.deleteMemoryItemsLocked(id)
	s.usage.deleteUser(id)
	for publicID, t := range s.tombstones {
		if t.userID == id {
			delete(s.tombstones, publicID)
		}
	}
	delete(s.users, id)
	delete(s.userByIdentity, identity{u.Issuer, u.Subject})
	delete(s.userByPublicID, u.PublicID)
}
