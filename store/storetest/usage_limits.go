package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// testUsageLimits checks limits on users and their keys: round trip,
// replacement, another user's key refused, deletion, and deletion with the
// user.
func testUsageLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := newUser(t, s), newUser(t, s)
	key, err := s.CreateAPIKey(ctx, store.APIKey{UserID: alice.ID, Hash: hash("limits-key")}, 0)
	must(t, "CreateAPIKey", err)

	_, err = s.GetUsageLimits(ctx, alice.ID, 0)
	wantErr(t, "GetUsageLimits(none set)", err, store.ErrNotFound)
	user := store.UsageLimits{TokensPerDay: 1000, CostNanosPerMonth: 5e9, SetByAdmin: true}
	must(t, "PutUsageLimits(user)", s.PutUsageLimits(ctx, alice.ID, 0, user))
	keyed := store.UsageLimits{TokensPerMinute: 50, Models: []string{"m1", "m2"}}
	must(t, "PutUsageLimits(key)", s.PutUsageLimits(ctx, alice.ID, key.ID, keyed))
	got, err := s.GetUsageLimits(ctx, alice.ID, 0)
	must(t, "GetUsageLimits(user)", err)
	if got.TokensPerDay != 1000 || got.CostNanosPerMonth != 5e9 || !got.SetByAdmin || got.Models != nil {
		t.Errorf("user limits = %+v, want %+v", got, user)
	}
	got, err = s.GetUsageLimits(ctx, alice.ID, key.ID)
	must(t, "GetUsageLimits(key)", err)
	if got.TokensPerMinute != 50 || !slices.Equal(got.Models, keyed.Models) || got.SetByAdmin {
		t.Errorf("key limits = %+v, want %+v", got, keyed)
	}
	keyed.Models = []string{"m3"}
	must(t, "PutUsageLimits(replace)", s.PutUsageLimits(ctx, alice.ID, key.ID, keyed))
	got, _ = s.GetUsageLimits(ctx, alice.ID, key.ID)
	if !slices.Equal(got.Models, []string{"m3"}) {
		t.Errorf("replaced key limits = %+v", got)
	}
	// Bob cannot set limits on Alice's key, nor see hers.
	wantErr(t, "PutUsageLimits(another user's key)", s.PutUsageLimits(ctx, bob.ID, key.ID, keyed), store.ErrNotFound)
	_, err = s.GetUsageLimits(ctx, bob.ID, key.ID)
	wantErr(t, "GetUsageLimits(another user's key)", err, store.ErrNotFound)
	wantErr(t, "PutUsageLimits(no such user)", s.PutUsageLimits(ctx, 1<<40, 0, user), store.ErrNotFound)

	must(t, "DeleteUsageLimits", s.DeleteUsageLimits(ctx, alice.ID, key.ID))
	wantErr(t, "DeleteUsageLimits(again)", s.DeleteUsageLimits(ctx, alice.ID, key.ID), store.ErrNotFound)

	guest, err := s.UpsertUser(ctx, store.User{Issuer: "gateway", Subject: RandomName("guest-"), Kind: store.UserKindGuest})
	must(t, "UpsertUser(guest)", err)
	must(t, "PutUsageLimits(guest)", s.PutUsageLimits(ctx, guest.ID, 0, user))
	_, err = s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: now().Add(time.Hour)})
	must(t, "Purge", err)
	_, err = s.GetUsageLimits(ctx, guest.ID, 0)
	wantErr(t, "GetUsageLimits(deleted guest)", err, store.ErrNotFound)
}
