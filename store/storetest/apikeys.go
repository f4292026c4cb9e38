package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func testAPIKeys(t *testing.T, s store.Store) {
	create := func(t *testing.T, u store.User, name string) store.APIKey {
		t.Helper()
		k, err := s.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Name: name, Prefix: "sk_ab", Suffix: "yz", Hash: hash("key")}, 0)
		must(t, "CreateAPIKey", err)
		return k
	}

	t.Run("create", func(t *testing.T) {
		u := newUser(t, s)
		expires := now().Add(24 * time.Hour)
		in := store.APIKey{UserID: u.ID, Name: "ci", Prefix: "sk_abc", Suffix: "xyz", Hash: hash("key"), ExpiresAt: &expires}
		k, err := s.CreateAPIKey(t.Context(), in, 0)
		must(t, "CreateAPIKey", err)
		if k.ID == 0 || !strings.HasPrefix(k.PublicID, store.PrefixAPIKey+"_") || k.CreatedAt.IsZero() {
			t.Errorf("created key %+v: want ID, PublicID key_… and CreatedAt set", k)
		}
		if k.UserID != u.ID || k.Name != "ci" || k.Prefix != "sk_abc" || k.Suffix != "xyz" || !bytes.Equal(k.Hash, in.Hash) ||
			!sameTimePtr(k.ExpiresAt, &expires) || k.RevokedAt != nil || k.LastUsedAt != nil {
			t.Errorf("created key %+v differs from input %+v", k, in)
		}
	})

	t.Run("create with a duplicate hash", func(t *testing.T) {
		u := newUser(t, s)
		k := create(t, u, "a")
		_, err := s.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Name: "b", Hash: k.Hash}, 0)
		wantErr(t, "CreateAPIKey(duplicate hash)", err, store.ErrConflict)
	})

	t.Run("create for an unknown user", func(t *testing.T) {
		_, err := s.CreateAPIKey(t.Context(), store.APIKey{UserID: 987654321, Name: "x", Hash: hash("key")}, 0)
		wantErr(t, "CreateAPIKey(unknown user)", err, store.ErrNotFound)
	})

	t.Run("create within a cap, concurrently", func(t *testing.T) {
		const limit, tries = 5, 20
		u := newUser(t, s)
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, refused := 0, 0
		for i := range tries {
			wg.Go(func() {
				_, err := s.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Name: "k", Hash: hash(fmt.Sprint("capped-", i))}, limit)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created++
				case errors.Is(err, store.ErrLimitReached):
					refused++
				default:
					t.Errorf("CreateAPIKey within a cap: %v", err)
				}
			})
		}
		wg.Wait()
		if created != limit || refused != tries-limit {
			t.Errorf("%d concurrent creates with a cap of %d: %d created, %d refused; want %d and %d", tries, limit, created, refused, limit, tries-limit)
		}
		keys, err := s.ListAPIKeys(t.Context(), u.ID)
		must(t, "ListAPIKeys", err)
		if len(keys) != limit {
			t.Errorf("the user has %d keys after creates capped at %d", len(keys), limit)
		}
		// A revoked key frees its place.
		must(t, "RevokeAPIKey", s.RevokeAPIKey(t.Context(), u.ID, keys[0].PublicID, now()))
		_, err = s.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Name: "k", Hash: hash("capped-after-revoke")}, limit)
		must(t, "CreateAPIKey after a revoke", err)
		_, err = s.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Name: "k", Hash: hash("capped-over")}, limit)
		wantErr(t, "CreateAPIKey over the cap", err, store.ErrLimitReached)
	})

	t.Run("list newest first without revoked keys", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		k1, k2, k3 := create(t, u, "one"), create(t, u, "two"), create(t, u, "three")
		create(t, other, "someone else's")
		must(t, "RevokeAPIKey", s.RevokeAPIKey(t.Context(), u.ID, k2.PublicID, now()))
		keys, err := s.ListAPIKeys(t.Context(), u.ID)
		must(t, "ListAPIKeys", err)
		got := publicIDsOfKeys(keys)
		want := []string{k3.PublicID, k1.PublicID}
		if !slices.Equal(got, want) {
			t.Errorf("ListAPIKeys = %v, want %v (three, one)", got, want)
		}
		empty, err := s.ListAPIKeys(t.Context(), newUser(t, s).ID)
		must(t, "ListAPIKeys(no keys)", err)
		if len(empty) != 0 {
			t.Errorf("user without keys lists %d keys", len(empty))
		}
	})

	t.Run("revoke", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		k := create(t, u, "k")
		wantErr(t, "RevokeAPIKey(another user's key)", s.RevokeAPIKey(t.Context(), other.ID, k.PublicID, now()), store.ErrNotFound)
		wantErr(t, "RevokeAPIKey(unknown)", s.RevokeAPIKey(t.Context(), u.ID, store.NewPublicID(store.PrefixAPIKey), now()), store.ErrNotFound)
		at := now()
		must(t, "RevokeAPIKey", s.RevokeAPIKey(t.Context(), u.ID, k.PublicID, at))
		wantErr(t, "RevokeAPIKey(already revoked)", s.RevokeAPIKey(t.Context(), u.ID, k.PublicID, now()), store.ErrNotFound)
		got, _, err := s.GetAPIKeyByHash(t.Context(), k.Hash)
		must(t, "GetAPIKeyByHash", err)
		if !sameTimePtr(got.RevokedAt, &at) {
			t.Errorf("RevokedAt = %s, want %v", fmtTimePtr(got.RevokedAt), at)
		}
	})

	t.Run("get by hash", func(t *testing.T) {
		u := newUser(t, s)
		k := create(t, u, "k")
		got, owner, err := s.GetAPIKeyByHash(t.Context(), k.Hash)
		must(t, "GetAPIKeyByHash", err)
		if got.ID != k.ID || got.PublicID != k.PublicID || got.Name != "k" || owner.ID != u.ID || owner.PublicID != u.PublicID {
			t.Errorf("GetAPIKeyByHash = %+v of user %d, want key %d of user %d", got, owner.ID, k.ID, u.ID)
		}
		_, _, err = s.GetAPIKeyByHash(t.Context(), hash("unknown"))
		wantErr(t, "GetAPIKeyByHash(unknown)", err, store.ErrNotFound)
	})

	t.Run("revoked since", func(t *testing.T) {
		u := newUser(t, s)
		before, after, live := create(t, u, "before"), create(t, u, "after"), create(t, u, "live")
		since := now()
		must(t, "RevokeAPIKey", s.RevokeAPIKey(t.Context(), u.ID, before.PublicID, since.Add(-time.Second)))
		must(t, "RevokeAPIKey", s.RevokeAPIKey(t.Context(), u.ID, after.PublicID, since))
		hashes, err := s.ListAPIKeysRevokedSince(t.Context(), since)
		must(t, "ListAPIKeysRevokedSince", err)
		has := func(h []byte) bool {
			return slices.ContainsFunc(hashes, func(x []byte) bool { return bytes.Equal(x, h) })
		}
		if !has(after.Hash) {
			t.Error("key revoked at since is missing")
		}
		if has(before.Hash) || has(live.Hash) {
			t.Error("key revoked before since, or not revoked, is listed")
		}
	})

	t.Run("touch never moves back", func(t *testing.T) {
		u := newUser(t, s)
		a, b := create(t, u, "a"), create(t, u, "b")
		t0 := now()
		must(t, "TouchAPIKeys", s.TouchAPIKeys(t.Context(), map[int64]time.Time{a.ID: t0, b.ID: t0.Add(time.Minute), 987654321: t0}))
		must(t, "TouchAPIKeys(older)", s.TouchAPIKeys(t.Context(), map[int64]time.Time{a.ID: t0.Add(-time.Hour), b.ID: t0.Add(2 * time.Minute)}))
		must(t, "TouchAPIKeys(empty)", s.TouchAPIKeys(t.Context(), nil))
		for _, c := range []struct {
			key  store.APIKey
			want time.Time
		}{{a, t0}, {b, t0.Add(2 * time.Minute)}} {
			got, _, err := s.GetAPIKeyByHash(t.Context(), c.key.Hash)
			must(t, "GetAPIKeyByHash", err)
			if !sameTimePtr(got.LastUsedAt, &c.want) {
				t.Errorf("key %s LastUsedAt = %s, want %v", c.key.Name, fmtTimePtr(got.LastUsedAt), c.want)
			}
		}
	})
}

func publicIDsOfKeys(keys []store.APIKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.PublicID
	}
	return ids
}
