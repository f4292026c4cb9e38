package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// testRetention checks what Purge deletes and keeps. Users cannot be created
// in the past, so the rules' times lie in the future instead: a guest
// "created before" a cutoff an hour ahead is one created now.
func testRetention(t *testing.T, s store.Store) {
	ctx := t.Context()
	guest := func() store.User {
		t.Helper()
		u, err := s.UpsertUser(ctx, store.User{Issuer: "gateway", Subject: RandomName("guest-"), Kind: store.UserKindGuest})
		must(t, "UpsertUser(guest)", err)
		return u
	}
	token := func(u store.User, created, expires time.Time) store.RefreshToken {
		t.Helper()
		tok, err := s.CreateRefreshToken(ctx, store.RefreshToken{UserID: u.ID, FamilyID: RandomName("fam-"), Hash: hash("rt"), CreatedAt: created, ExpiresAt: expires})
		must(t, "CreateRefreshToken", err)
		return tok
	}
	cutoff := now().Add(time.Hour)

	idle := guest() // no token since the cutoff: deleted with what it owns
	conv, _ := newConversation(t, s, idle)
	token(idle, now(), now().Add(-time.Minute)) // expired
	active := guest()                           // a token issued after the cutoff
	fresh := token(active, cutoff.Add(time.Minute), cutoff.Add(48*time.Hour))
	person := newUser(t, s)                              // not a guest: never deleted as idle
	old := token(person, now(), now().Add(-time.Second)) // expired
	live := token(person, now(), now().Add(time.Hour))

	policy := store.RetentionPolicy{TokensExpiredBefore: now(), GuestsIdleSince: cutoff, BatchSize: 1}
	res, err := s.Purge(ctx, policy)
	must(t, "Purge", err)
	if res.Skipped || res.RefreshTokens != 2 || res.Guests != 1 {
		t.Errorf("Purge = %+v, want 2 refresh tokens and 1 guest deleted", res)
	}
	if _, err := s.GetUser(ctx, idle.ID); err == nil {
		t.Error("the idle guest is still there")
	}
	_, err = s.GetConversation(ctx, idle.ID, conv.PublicID)
	wantErr(t, "GetConversation(of the deleted guest)", err, store.ErrNotFound)
	for _, u := range []store.User{active, person} {
		if _, err := s.GetUser(ctx, u.ID); err != nil {
			t.Errorf("user %s (%s) was deleted: %v", u.PublicID, u.Kind, err)
		}
	}
	next := store.RefreshToken{Hash: hash("next"), ExpiresAt: now().Add(time.Hour)}
	_, err = s.RotateRefreshToken(ctx, old.Hash, next, now())
	wantErr(t, "RotateRefreshToken(expired and purged)", err, store.ErrNotFound)
	for _, tok := range []store.RefreshToken{live, fresh} {
		err := s.RevokeRefreshFamily(ctx, tok.Hash, now())
		must(t, "RevokeRefreshFamily(a token that must be kept)", err)
	}

	// Nothing left to purge; replicas purging at once delete each row once.
	for range 5 {
		guest()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for range 4 {
		wg.Go(func() {
			res, err := s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: cutoff, BatchSize: 2})
			if err != nil {
				t.Errorf("concurrent Purge: %v", err)
			}
			mu.Lock()
			total += res.Guests
			mu.Unlock()
		})
	}
	wg.Wait()
	if rest, err := s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: cutoff}); err != nil || rest.Guests+total != 5 {
		t.Errorf("concurrent purges deleted %d guests and a last one %d (%v), want 5 in all", total, rest.Guests, err)
	}
}
