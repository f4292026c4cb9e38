package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func testRefreshTokens(t *testing.T, s store.Store) {
	// login stores the first token of a new family for a new user.
	login := func(t *testing.T, ttl time.Duration) (store.User, store.RefreshToken) {
		t.Helper()
		u := newUser(t, s)
		tok, err := s.CreateRefreshToken(t.Context(), store.RefreshToken{
			UserID: u.ID, FamilyID: RandomName("fam-"), Hash: hash("rt"), ExpiresAt: now().Add(ttl),
		})
		must(t, "CreateRefreshToken", err)
		return u, tok
	}
	next := func() store.RefreshToken {
		return store.RefreshToken{Hash: hash("rt"), ExpiresAt: now().Add(time.Hour)}
	}

	t.Run("create", func(t *testing.T) {
		u, tok := login(t, time.Hour)
		if tok.ID == 0 || tok.UserID != u.ID || tok.CreatedAt.IsZero() || tok.UsedAt != nil || tok.RevokedAt != nil {
			t.Errorf("created token %+v: want ID and CreatedAt set, user %d, not used or revoked", tok, u.ID)
		}
	})

	t.Run("create generates a family when none is given", func(t *testing.T) {
		u := newUser(t, s)
		tok, err := s.CreateRefreshToken(t.Context(), store.RefreshToken{UserID: u.ID, Hash: hash("rt"), ExpiresAt: now().Add(time.Hour)})
		must(t, "CreateRefreshToken", err)
		if tok.FamilyID == "" {
			t.Error("FamilyID is empty, want a generated one")
		}
	})

	t.Run("create with a duplicate hash", func(t *testing.T) {
		u, tok := login(t, time.Hour)
		_, err := s.CreateRefreshToken(t.Context(), store.RefreshToken{UserID: u.ID, FamilyID: "f", Hash: tok.Hash, ExpiresAt: now().Add(time.Hour)})
		wantErr(t, "CreateRefreshToken(duplicate hash)", err, store.ErrConflict)
	})

	t.Run("create for an unknown user", func(t *testing.T) {
		_, err := s.CreateRefreshToken(t.Context(), store.RefreshToken{UserID: 987654321, FamilyID: "f", Hash: hash("rt"), ExpiresAt: now().Add(time.Hour)})
		wantErr(t, "CreateRefreshToken(unknown user)", err, store.ErrNotFound)
	})

	t.Run("rotate", func(t *testing.T) {
		u, first := login(t, time.Hour)
		in := next()
		in.UserID, in.FamilyID = 42, "ignored" // the store takes both from the old token
		second, err := s.RotateRefreshToken(t.Context(), first.Hash, in, now())
		must(t, "RotateRefreshToken", err)
		if second.ID == 0 || second.ID == first.ID || second.UserID != u.ID || second.FamilyID != first.FamilyID || !bytes.Equal(second.Hash, in.Hash) {
			t.Errorf("rotated token %+v: want a new token of user %d in family %s with the given hash", second, u.ID, first.FamilyID)
		}
		if !sameTime(second.ExpiresAt, in.ExpiresAt) {
			t.Errorf("ExpiresAt = %v, want %v", second.ExpiresAt, in.ExpiresAt)
		}
		third, err := s.RotateRefreshToken(t.Context(), second.Hash, next(), now())
		must(t, "RotateRefreshToken(second)", err)
		if third.FamilyID != first.FamilyID {
			t.Errorf("third token in family %s, want %s", third.FamilyID, first.FamilyID)
		}
	})

	t.Run("reuse revokes the family", func(t *testing.T) {
		_, first := login(t, time.Hour)
		second, err := s.RotateRefreshToken(t.Context(), first.Hash, next(), now())
		must(t, "RotateRefreshToken", err)
		_, err = s.RotateRefreshToken(t.Context(), first.Hash, next(), now())
		wantErr(t, "RotateRefreshToken(used token)", err, store.ErrTokenReused)
		// The legitimate holder's newer token dies with the family.
		_, err = s.RotateRefreshToken(t.Context(), second.Hash, next(), now())
		wantErr(t, "RotateRefreshToken(token of revoked family)", err, store.ErrTokenReused)
	})

	t.Run("reuse does not touch other families", func(t *testing.T) {
		u, first := login(t, time.Hour)
		other, err := s.CreateRefreshToken(t.Context(), store.RefreshToken{UserID: u.ID, FamilyID: RandomName("fam-"), Hash: hash("rt"), ExpiresAt: now().Add(time.Hour)})
		must(t, "CreateRefreshToken(other family)", err)
		_, err = s.RotateRefreshToken(t.Context(), first.Hash, next(), now())
		must(t, "RotateRefreshToken", err)
		_, err = s.RotateRefreshToken(t.Context(), first.Hash, next(), now())
		wantErr(t, "RotateRefreshToken(reused)", err, store.ErrTokenReused)
		_, err = s.RotateRefreshToken(t.Context(), other.Hash, next(), now())
		must(t, "RotateRefreshToken(other family)", err)
	})

	t.Run("concurrent rotations of one token", func(t *testing.T) {
		_, first := login(t, time.Hour)
		const n = 6
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := s.RotateRefreshToken(t.Context(), first.Hash, next(), now())
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			default:
				wantErr(t, "concurrent RotateRefreshToken", err, store.ErrTokenReused)
			}
		}
		if ok != 1 {
			t.Errorf("%d concurrent rotations of one token succeeded, want exactly one", ok)
		}
	})

	t.Run("expired", func(t *testing.T) {
		_, tok := login(t, time.Minute)
		_, err := s.RotateRefreshToken(t.Context(), tok.Hash, next(), tok.ExpiresAt)
		wantErr(t, "RotateRefreshToken at expiry", err, store.ErrExpired)
		_, err = s.RotateRefreshToken(t.Context(), tok.Hash, next(), tok.ExpiresAt.Add(time.Hour))
		wantErr(t, "RotateRefreshToken after expiry", err, store.ErrExpired)
		// An expired token was not used: just before expiry it still rotates.
		_, err = s.RotateRefreshToken(t.Context(), tok.Hash, next(), tok.ExpiresAt.Add(-time.Second))
		must(t, "RotateRefreshToken before expiry", err)
	})

	t.Run("unknown", func(t *testing.T) {
		_, err := s.RotateRefreshToken(t.Context(), hash("unknown"), next(), now())
		wantErr(t, "RotateRefreshToken(unknown)", err, store.ErrNotFound)
		err = s.RevokeRefreshFamily(t.Context(), hash("unknown"), now())
		wantErr(t, "RevokeRefreshFamily(unknown)", err, store.ErrNotFound)
	})

	t.Run("revoke family", func(t *testing.T) {
		_, first := login(t, time.Hour)
		second, err := s.RotateRefreshToken(t.Context(), first.Hash, next(), now())
		must(t, "RotateRefreshToken", err)
		// Logging out with the current token revokes it and its ancestors.
		must(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(t.Context(), second.Hash, now()))
		_, err = s.RotateRefreshToken(t.Context(), second.Hash, next(), now())
		wantErr(t, "RotateRefreshToken(revoked)", err, store.ErrTokenReused)
		// Revoking again is harmless.
		must(t, "RevokeRefreshFamily again", s.RevokeRefreshFamily(t.Context(), first.Hash, now()))
	})
}

func testSigningKeys(t *testing.T, s store.Store) {
	keys, err := s.ListSigningKeys(t.Context())
	must(t, "ListSigningKeys(empty)", err)
	if len(keys) != 0 {
		t.Fatalf("new store has %d signing keys, want none", len(keys))
	}

	base := now().Add(-time.Hour)
	older := store.SigningKey{KID: "k1", Algorithm: "EdDSA", PrivateKey: []byte("der-1"), CreatedAt: base}
	newer := store.SigningKey{KID: "k2", Algorithm: "ES256", PrivateKey: []byte("der-2"), CreatedAt: base.Add(time.Minute)}
	must(t, "CreateSigningKey(k1)", s.CreateSigningKey(t.Context(), older))
	must(t, "CreateSigningKey(k2)", s.CreateSigningKey(t.Context(), newer))
	wantErr(t, "CreateSigningKey(duplicate)", s.CreateSigningKey(t.Context(), older), store.ErrConflict)

	keys, err = s.ListSigningKeys(t.Context())
	must(t, "ListSigningKeys", err)
	if len(keys) != 2 || keys[0].KID != "k2" || keys[1].KID != "k1" {
		t.Fatalf("ListSigningKeys = %+v, want k2 then k1", keys)
	}
	got := keys[1]
	if got.Algorithm != "EdDSA" || !bytes.Equal(got.PrivateKey, []byte("der-1")) || !sameTime(got.CreatedAt, base) || got.RetiredAt != nil {
		t.Errorf("k1 read back as %+v", got)
	}

	retired := now()
	must(t, "RetireSigningKey", s.RetireSigningKey(t.Context(), "k1", retired))
	wantErr(t, "RetireSigningKey(unknown)", s.RetireSigningKey(t.Context(), "nope", retired), store.ErrNotFound)
	keys, err = s.ListSigningKeys(t.Context())
	must(t, "ListSigningKeys", err)
	for _, k := range keys {
		switch k.KID {
		case "k1":
			if !sameTimePtr(k.RetiredAt, &retired) {
				t.Errorf("k1 RetiredAt = %s, want %v", fmtTimePtr(k.RetiredAt), retired)
			}
		case "k2":
			if k.RetiredAt != nil {
				t.Errorf("k2 RetiredAt = %s, want nil", fmtTimePtr(k.RetiredAt))
			}
		}
	}
}
