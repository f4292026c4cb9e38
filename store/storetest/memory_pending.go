package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func testPendingObservations(t *testing.T, s store.Store) {
	ctx := t.Context()
	add := func(t *testing.T, userID int64, text string) store.PendingObservation {
		t.Helper()
		p, err := s.AddPendingObservation(ctx, store.PendingObservation{
			UserID: userID, ConversationPublicID: "conv_1", ProjectPublicID: "proj_1", UserText: text, AssistantText: "ok",
		}, 0)
		must(t, "AddPendingObservation", err)
		return p
	}

	t.Run("claim, expire, delete", func(t *testing.T) {
		u := newUser(t, s)
		p := add(t, u.ID, "I like tea.")
		if p.ID == 0 || p.CreatedAt.IsZero() || p.Attempts != 0 || p.UserText != "I like tea." || p.ProjectPublicID != "proj_1" {
			t.Fatalf("added %+v", p)
		}
		t0 := now()
		ok, err := s.ClaimPendingObservation(ctx, p.ID, t0, t0.Add(time.Minute))
		must(t, "ClaimPendingObservation", err)
		if !ok {
			t.Fatal("a fresh turn could not be claimed")
		}
		ok, _ = s.ClaimPendingObservation(ctx, p.ID, t0.Add(time.Second), t0.Add(time.Hour))
		if ok {
			t.Fatal("a claimed turn was claimed again before its claim expired")
		}
		got, err := s.ClaimPendingObservations(ctx, t0.Add(time.Second), t0.Add(time.Hour), 10)
		must(t, "ClaimPendingObservations", err)
		for _, g := range got {
			if g.ID == p.ID {
				t.Fatal("a held turn was claimed in a batch")
			}
		}
		// Its claim expired (the worker died): claimable again, one more attempt.
		got, err = s.ClaimPendingObservations(ctx, t0.Add(2*time.Minute), t0.Add(time.Hour), 100)
		must(t, "ClaimPendingObservations(expired)", err)
		found := false
		for _, g := range got {
			if g.ID == p.ID {
				found = true
				if g.Attempts != 2 || g.UserText != "I like tea." || g.UserID != u.ID {
					t.Errorf("reclaimed %+v, want attempt 2 of the same turn", g)
				}
			}
		}
		if !found {
			t.Fatal("a turn whose claim expired was not claimed again")
		}
		must(t, "DeletePendingObservation", s.DeletePendingObservation(ctx, p.ID))
		must(t, "DeletePendingObservation(again)", s.DeletePendingObservation(ctx, p.ID))
		if ok, _ := s.ClaimPendingObservation(ctx, p.ID, t0.Add(time.Hour), t0.Add(2*time.Hour)); ok {
			t.Fatal("a deleted turn was claimed")
		}
	})

	t.Run("concurrent claims never share a turn", func(t *testing.T) {
		u := newUser(t, s)
		const n = 20
		for range n {
			add(t, u.ID, "fact")
		}
		t0 := now().Add(time.Hour) // past every other group's claims too
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seen = map[int64]int{}
		)
		for range 4 {
			wg.Go(func() {
				got, err := s.ClaimPendingObservations(ctx, t0, t0.Add(time.Hour), 8)
				if err != nil {
					t.Errorf("ClaimPendingObservations: %v", err)
					return
				}
				mu.Lock()
				for _, g := range got {
					seen[g.ID]++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		for id, c := range seen {
			if c != 1 {
				t.Errorf("turn %d claimed %d times", id, c)
			}
		}
	})

	t.Run("at most maxPerUser waiting per user", func(t *testing.T) {
		u, v := newUser(t, s), newUser(t, s)
		turn := func(userID int64) store.PendingObservation {
			return store.PendingObservation{UserID: userID, ConversationPublicID: "conv_1", UserText: "flood", AssistantText: "ok"}
		}
		var first store.PendingObservation
		for i := range 3 {
			p, err := s.AddPendingObservation(ctx, turn(u.ID), 3)
			must(t, "AddPendingObservation", err)
			if i == 0 {
				first = p
			}
		}
		_, err := s.AddPendingObservation(ctx, turn(u.ID), 3)
		wantErr(t, "AddPendingObservation(a fourth of max 3)", err, store.ErrLimitReached)
		// Others are not held back by it, nor is an unbounded add.
		_, err = s.AddPendingObservation(ctx, turn(v.ID), 3)
		must(t, "AddPendingObservation(another user)", err)
		_, err = s.AddPendingObservation(ctx, turn(u.ID), 0)
		must(t, "AddPendingObservation(no bound)", err)
		// Once one is observed, there is room again.
		must(t, "DeletePendingObservation", s.DeletePendingObservation(ctx, first.ID))
		must(t, "DeletePendingObservation", s.DeletePendingObservation(ctx, first.ID))
		_, err = s.AddPendingObservation(ctx, turn(u.ID), 3)
		wantErr(t, "AddPendingObservation(3 still waiting of max 3)", err, store.ErrLimitReached)
		_, err = s.AddPendingObservation(ctx, turn(u.ID), 4)
		must(t, "AddPendingObservation(max 4)", err)
	})

	t.Run("purged when old, gone with the user and with forgetting", func(t *testing.T) {
		u := newUser(t, s)
		p := add(t, u.ID, "old")
		n, err := s.PurgePendingObservations(ctx, p.CreatedAt.Add(time.Microsecond))
		must(t, "PurgePendingObservations", err)
		if n < 1 {
			t.Fatalf("purged %d, want the old turn", n)
		}
		if ok, _ := s.ClaimPendingObservation(ctx, p.ID, now().Add(48*time.Hour), now().Add(49*time.Hour)); ok {
			t.Fatal("a purged turn was claimed")
		}
		q := add(t, u.ID, "forgotten")
		_, err = s.DeleteMemoryItems(ctx, u.ID)
		must(t, "DeleteMemoryItems", err)
		if ok, _ := s.ClaimPendingObservation(ctx, q.ID, now().Add(48*time.Hour), now().Add(49*time.Hour)); ok {
			t.Fatal("a turn of a user who forgot everything was still pending")
		}
		guest, err := s.UpsertUser(ctx, store.User{Issuer: "guest", Subject: RandomName("g-"), Kind: store.UserKindGuest})
		must(t, "UpsertUser(guest)", err)
		r := add(t, guest.ID, "guest turn")
		_, err = s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: time.Now().Add(time.Hour)})
		must(t, "Purge", err)
		if ok, _ := s.ClaimPendingObservation(ctx, r.ID, now().Add(48*time.Hour), now().Add(49*time.Hour)); ok {
			t.Fatal("a purged guest's turn was still pending")
		}
		_, err = s.AddPendingObservation(ctx, store.PendingObservation{UserID: 1 << 50, UserText: "x", AssistantText: "y"}, 0)
		wantErr(t, "AddPendingObservation(unknown user)", err, store.ErrNotFound)
	})
}
