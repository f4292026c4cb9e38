package storetest

import (
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/store"
)

func testUsers(t *testing.T, s store.Store) {
	t.Run("create", func(t *testing.T) {
		subject := RandomName("sub-")
		u, err := s.UpsertUser(t.Context(), store.User{
			Issuer: "https://a.test", Subject: subject, Kind: store.UserKindGuest,
			Username: "ann", Email: "ann@a.test", Name: "Ann",
		})
		must(t, "UpsertUser", err)
		if u.ID == 0 || !strings.HasPrefix(u.PublicID, store.PrefixUser+"_") {
			t.Errorf("new user has ID %d, PublicID %q; want both set, PublicID usr_…", u.ID, u.PublicID)
		}
		if u.Issuer != "https://a.test" || u.Subject != subject || u.Kind != store.UserKindGuest ||
			u.Username != "ann" || u.Email != "ann@a.test" || u.Name != "Ann" {
			t.Errorf("new user = %+v, fields differ from input", u)
		}
		if u.CreatedAt.IsZero() || !sameTime(u.CreatedAt, u.UpdatedAt) {
			t.Errorf("new user CreatedAt %v, UpdatedAt %v; want equal, non-zero", u.CreatedAt, u.UpdatedAt)
		}
		byID, err := s.GetUser(t.Context(), u.ID)
		must(t, "GetUser", err)
		byPublic, err := s.GetUserByPublicID(t.Context(), u.PublicID)
		must(t, "GetUserByPublicID", err)
		for _, got := range []store.User{byID, byPublic} {
			if got.ID != u.ID || got.PublicID != u.PublicID || got.Email != u.Email || !sameTime(got.CreatedAt, u.CreatedAt) {
				t.Errorf("read back %+v, want %+v", got, u)
			}
		}
	})

	t.Run("kind defaults to user", func(t *testing.T) {
		u, err := s.UpsertUser(t.Context(), store.User{Issuer: "https://a.test", Subject: RandomName("sub-")})
		must(t, "UpsertUser", err)
		if u.Kind != store.UserKindUser {
			t.Errorf("Kind = %q, want %q", u.Kind, store.UserKindUser)
		}
	})

	t.Run("invalid kind", func(t *testing.T) {
		_, err := s.UpsertUser(t.Context(), store.User{Issuer: "https://a.test", Subject: RandomName("sub-"), Kind: "admin"})
		if err == nil {
			t.Error("UpsertUser with kind admin succeeded, want an error")
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		in := store.User{Issuer: "https://a.test", Subject: RandomName("sub-"), Username: "bob", Email: "bob@a.test", Name: "Bob"}
		first, err := s.UpsertUser(t.Context(), in)
		must(t, "first UpsertUser", err)
		second, err := s.UpsertUser(t.Context(), in)
		must(t, "second UpsertUser", err)
		if second.ID != first.ID || second.PublicID != first.PublicID {
			t.Errorf("second upsert gave user %d %s, want the same user %d %s", second.ID, second.PublicID, first.ID, first.PublicID)
		}
		if !sameTime(second.UpdatedAt, first.UpdatedAt) {
			t.Errorf("upsert without changes moved UpdatedAt from %v to %v", first.UpdatedAt, second.UpdatedAt)
		}
	})

	t.Run("updates non-empty fields only", func(t *testing.T) {
		in := store.User{Issuer: "https://a.test", Subject: RandomName("sub-"), Kind: store.UserKindGuest, Username: "cy", Email: "cy@a.test", Name: "Cy"}
		first, err := s.UpsertUser(t.Context(), in)
		must(t, "first UpsertUser", err)
		got, err := s.UpsertUser(t.Context(), store.User{Issuer: in.Issuer, Subject: in.Subject, Kind: store.UserKindUser, Email: "cy@b.test"})
		must(t, "second UpsertUser", err)
		if got.ID != first.ID {
			t.Fatalf("second upsert created user %d, want %d", got.ID, first.ID)
		}
		if got.Email != "cy@b.test" || got.Kind != store.UserKindUser {
			t.Errorf("email %q kind %q, want cy@b.test user", got.Email, got.Kind)
		}
		if got.Username != "cy" || got.Name != "Cy" {
			t.Errorf("empty fields cleared stored ones: username %q name %q", got.Username, got.Name)
		}
		if got.UpdatedAt.Before(first.UpdatedAt) || !sameTime(got.CreatedAt, first.CreatedAt) {
			t.Errorf("timestamps after update: created %v (was %v), updated %v (was %v)", got.CreatedAt, first.CreatedAt, got.UpdatedAt, first.UpdatedAt)
		}
		again, err := s.GetUser(t.Context(), first.ID)
		must(t, "GetUser", err)
		if again.Email != "cy@b.test" {
			t.Errorf("stored email %q, want cy@b.test", again.Email)
		}
	})

	t.Run("empty kind keeps the stored kind", func(t *testing.T) {
		in := store.User{Issuer: "https://a.test", Subject: RandomName("sub-"), Kind: store.UserKindGuest}
		_, err := s.UpsertUser(t.Context(), in)
		must(t, "UpsertUser", err)
		got, err := s.UpsertUser(t.Context(), store.User{Issuer: in.Issuer, Subject: in.Subject, Name: "Guest"})
		must(t, "UpsertUser(empty kind)", err)
		if got.Kind != store.UserKindGuest || got.Name != "Guest" {
			t.Errorf("kind %q name %q, want guest Guest", got.Kind, got.Name)
		}
	})

	t.Run("issuer and subject together identify a user", func(t *testing.T) {
		subject := RandomName("sub-")
		a, err := s.UpsertUser(t.Context(), store.User{Issuer: "https://a.test", Subject: subject})
		must(t, "UpsertUser a", err)
		b, err := s.UpsertUser(t.Context(), store.User{Issuer: "https://b.test", Subject: subject})
		must(t, "UpsertUser b", err)
		c, err := s.UpsertUser(t.Context(), store.User{Issuer: "https://a.test", Subject: subject + "x"})
		must(t, "UpsertUser c", err)
		if a.ID == b.ID || a.ID == c.ID || b.ID == c.ID || a.PublicID == b.PublicID {
			t.Errorf("distinct identities share users: %d %d %d", a.ID, b.ID, c.ID)
		}
	})

	t.Run("concurrent upserts make one user", func(t *testing.T) {
		in := store.User{Issuer: "https://a.test", Subject: RandomName("sub-")}
		ids := make(chan int64, 8)
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				u, err := s.UpsertUser(t.Context(), in)
				ids <- u.ID
				errs <- err
			}()
		}
		seen := map[int64]bool{}
		for range 8 {
			if err := <-errs; err != nil {
				t.Errorf("UpsertUser: %v", err)
			}
			seen[<-ids] = true
		}
		if len(seen) != 1 {
			t.Errorf("8 concurrent upserts of one identity made users %v, want one", seen)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		_, err := s.GetUser(t.Context(), 987654321)
		wantErr(t, "GetUser(unknown)", err, store.ErrNotFound)
		_, err = s.GetUserByPublicID(t.Context(), store.NewPublicID(store.PrefixUser))
		wantErr(t, "GetUserByPublicID(unknown)", err, store.ErrNotFound)
	})
}
