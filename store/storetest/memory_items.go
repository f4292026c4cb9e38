package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func newMemoryItem(userID int64, kind, text string) store.MemoryItem {
	return store.MemoryItem{
		UserID: userID, Kind: kind, Text: text, Source: store.MemorySourceObserved,
		Embedding: []float32{0.6, -0.8, 0}, EmbeddingModel: "embedder",
	}
}

func memoryTexts(items []store.MemoryItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Text
	}
	return out
}

func testMemoryItems(t *testing.T, s store.Store) {
	ctx := t.Context()

	t.Run("create, get, vectors, update, delete", func(t *testing.T) {
		u := newUser(t, s)
		in := newMemoryItem(u.ID, store.MemoryKindProject, "The project is written in Go.")
		in.ProjectPublicID, in.ConversationPublicID = "proj_x", "conv_y"
		got, err := s.CreateMemoryItem(ctx, in, 0)
		must(t, "CreateMemoryItem", err)
		if got.ID == 0 || len(got.PublicID) < 5 || got.PublicID[:4] != "mem_" || got.CreatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Fatalf("created %+v: want ids and timestamps", got)
		}
		if got.Kind != in.Kind || got.Text != in.Text || got.ProjectPublicID != "proj_x" || got.ConversationPublicID != "conv_y" ||
			got.Source != store.MemorySourceObserved || !slices.Equal(got.Embedding, in.Embedding) || got.EmbeddingModel != "embedder" {
			t.Fatalf("created %+v, want the fields of %+v", got, in)
		}
		read, err := s.GetMemoryItem(ctx, u.ID, got.PublicID)
		must(t, "GetMemoryItem", err)
		if read.Text != got.Text || !slices.Equal(read.Embedding, got.Embedding) || !read.CreatedAt.Equal(got.CreatedAt) {
			t.Fatalf("GetMemoryItem = %+v, want %+v", read, got)
		}
		vecs, err := s.MemoryVectors(ctx, u.ID, 0)
		must(t, "MemoryVectors", err)
		if len(vecs) != 1 || !slices.Equal(vecs[0].Embedding, in.Embedding) {
			t.Fatalf("MemoryVectors = %+v", vecs)
		}
		// The caller's slice is copied in and out.
		in.Embedding[0] = 9
		vecs[0].Embedding[1] = 9
		again, _ := s.GetMemoryItem(ctx, u.ID, got.PublicID)
		if again.Embedding[0] != 0.6 || again.Embedding[1] != -0.8 {
			t.Fatalf("stored vector changed through a caller's slice: %v", again.Embedding)
		}

		before, err := s.MemoryStamp(ctx, u.ID)
		must(t, "MemoryStamp", err)
		if before.Count != 1 || before.MaxID != got.ID {
			t.Fatalf("stamp = %+v, want 1 item, max id %d", before, got.ID)
		}
		text, model := "The project is written in Go 1.26.", "embedder-2"
		upd, err := s.UpdateMemoryItem(ctx, u.ID, got.PublicID, store.MemoryPatch{Text: &text, Embedding: []float32{1, 0, 0}, EmbeddingModel: &model}, got.CreatedAt)
		must(t, "UpdateMemoryItem", err)
		if upd.Text != text || !slices.Equal(upd.Embedding, []float32{1, 0, 0}) || upd.EmbeddingModel != model || !upd.UpdatedAt.After(got.UpdatedAt) {
			t.Fatalf("updated %+v", upd)
		}
		after, _ := s.MemoryStamp(ctx, u.ID)
		if after == before {
			t.Fatalf("stamp %+v did not change with an update", after)
		}
		must(t, "DeleteMemoryItem", s.DeleteMemoryItem(ctx, u.ID, got.PublicID))
		_, err = s.GetMemoryItem(ctx, u.ID, got.PublicID)
		wantErr(t, "GetMemoryItem(deleted)", err, store.ErrNotFound)
		wantErr(t, "DeleteMemoryItem(again)", s.DeleteMemoryItem(ctx, u.ID, got.PublicID), store.ErrNotFound)
		if st, _ := s.MemoryStamp(ctx, u.ID); st.Count != 0 {
			t.Fatalf("stamp after delete = %+v", st)
		}
	})

	t.Run("no vector", func(t *testing.T) {
		u := newUser(t, s)
		in := newMemoryItem(u.ID, store.MemoryKindUser, "I like tea.")
		in.Embedding, in.EmbeddingModel, in.Source = nil, "", store.MemorySourceManual
		got, err := s.CreateMemoryItem(ctx, in, 0)
		must(t, "CreateMemoryItem", err)
		if got.Embedding != nil || got.Source != store.MemorySourceManual {
			t.Fatalf("created %+v, want no vector", got)
		}
	})

	t.Run("other users see nothing", func(t *testing.T) {
		owner, other := newUser(t, s), newUser(t, s)
		it, err := s.CreateMemoryItem(ctx, newMemoryItem(owner.ID, store.MemoryKindUser, "secret"), 0)
		must(t, "CreateMemoryItem", err)
		_, err = s.GetMemoryItem(ctx, other.ID, it.PublicID)
		wantErr(t, "GetMemoryItem(other user)", err, store.ErrNotFound)
		text := "stolen"
		_, err = s.UpdateMemoryItem(ctx, other.ID, it.PublicID, store.MemoryPatch{Text: &text}, now())
		wantErr(t, "UpdateMemoryItem(other user)", err, store.ErrNotFound)
		wantErr(t, "DeleteMemoryItem(other user)", s.DeleteMemoryItem(ctx, other.ID, it.PublicID), store.ErrNotFound)
		n, err := s.DeleteMemoryItems(ctx, other.ID)
		must(t, "DeleteMemoryItems(other user)", err)
		if n != 0 {
			t.Fatalf("DeleteMemoryItems(other user) = %d", n)
		}
		page, err := s.ListMemoryItems(ctx, other.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10})
		must(t, "ListMemoryItems(other user)", err)
		if len(page.Items) != 0 {
			t.Fatalf("other user lists %v", memoryTexts(page.Items))
		}
		_, err = s.ListMemoryItems(ctx, other.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10, After: it.PublicID})
		wantErr(t, "ListMemoryItems(after another user's item)", err, store.ErrInvalidCursor)
		vecs, _ := s.MemoryVectors(ctx, other.ID, 0)
		if len(vecs) != 0 {
			t.Fatalf("other user's vectors = %v", memoryTexts(vecs))
		}
		if got, err := s.GetMemoryItem(ctx, owner.ID, it.PublicID); err != nil || got.Text != "secret" {
			t.Fatalf("owner's item after the other user's attempts: %+v, %v", got, err)
		}
		_, err = s.CreateMemoryItem(ctx, newMemoryItem(1<<50, store.MemoryKindUser, "nobody"), 0)
		wantErr(t, "CreateMemoryItem(unknown user)", err, store.ErrNotFound)
	})

	t.Run("list filters and pages", func(t *testing.T) {
		u := newUser(t, s)
		var all []string
		for i, kind := range []string{store.MemoryKindUser, store.MemoryKindProject, store.MemoryKindEpisodic, store.MemoryKindProject, store.MemoryKindUser} {
			it := newMemoryItem(u.ID, kind, kind+string(rune('a'+i)))
			if kind == store.MemoryKindProject {
				it.ProjectPublicID = "proj_" + string(rune('a'+i))
			}
			_, err := s.CreateMemoryItem(ctx, it, 0)
			must(t, "CreateMemoryItem", err)
			all = append(all, it.Text)
		}
		page, err := s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{}, store.ListOptions{Limit: 2, Order: store.OrderAsc})
		must(t, "ListMemoryItems", err)
		if !slices.Equal(memoryTexts(page.Items), all[:2]) || !page.HasMore || page.Items[0].Embedding != nil {
			t.Fatalf("first page = %v (more %v), want %v without vectors", memoryTexts(page.Items), page.HasMore, all[:2])
		}
		page, err = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10, Order: store.OrderAsc, After: page.Items[1].PublicID})
		must(t, "ListMemoryItems(after)", err)
		if !slices.Equal(memoryTexts(page.Items), all[2:]) || page.HasMore {
			t.Fatalf("second page = %v, want %v", memoryTexts(page.Items), all[2:])
		}
		page, _ = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10})
		if !slices.Equal(memoryTexts(page.Items), reversed(all)) {
			t.Fatalf("default order = %v, want newest first", memoryTexts(page.Items))
		}
		page, _ = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{Kind: store.MemoryKindUser}, store.ListOptions{Limit: 10, Order: store.OrderAsc})
		if !slices.Equal(memoryTexts(page.Items), []string{all[0], all[4]}) {
			t.Fatalf("kind=user = %v", memoryTexts(page.Items))
		}
		page, _ = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{Kind: store.MemoryKindProject, ProjectPublicID: "proj_d"}, store.ListOptions{Limit: 10})
		if !slices.Equal(memoryTexts(page.Items), []string{all[3]}) {
			t.Fatalf("project proj_d = %v", memoryTexts(page.Items))
		}
		page, _ = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10, MaxBytes: 1})
		if len(page.Items) != 1 || !page.HasMore {
			t.Fatalf("a page of 1 byte holds %d items (more %v), want 1 and more", len(page.Items), page.HasMore)
		}
		_, err = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10, After: "mem_nope"})
		wantErr(t, "ListMemoryItems(unknown cursor)", err, store.ErrInvalidCursor)

		n, err := s.DeleteMemoryItems(ctx, u.ID)
		must(t, "DeleteMemoryItems", err)
		if n != 5 {
			t.Fatalf("DeleteMemoryItems = %d, want 5", n)
		}
		page, _ = s.ListMemoryItems(ctx, u.ID, store.MemoryFilter{}, store.ListOptions{Limit: 10})
		if len(page.Items) != 0 {
			t.Fatalf("after DeleteMemoryItems: %v", memoryTexts(page.Items))
		}
	})

	t.Run("cap per user: episodic items roll, others are refused", func(t *testing.T) {
		u := newUser(t, s)
		const capacity = 3
		_, err := s.CreateMemoryItem(ctx, newMemoryItem(u.ID, store.MemoryKindEpisodic, "e1"), capacity)
		must(t, "create e1", err)
		_, err = s.CreateMemoryItem(ctx, newMemoryItem(u.ID, store.MemoryKindUser, "u1"), capacity)
		must(t, "create u1", err)
		_, err = s.CreateMemoryItem(ctx, newMemoryItem(u.ID, store.MemoryKindEpisodic, "e2"), capacity)
		must(t, "create e2", err)
		_, err = s.CreateMemoryItem(ctx, newMemoryItem(u.ID, store.MemoryKindUser, "u2"), capacity)
		wantErr(t, "create u2 at the cap", err, store.ErrLimitReached)
		_, err = s.CreateMemoryItem(ctx, newMemoryItem(u.ID, store.MemoryKindEpisodic, "e3"), capacity)
		must(t, "create e3 at the cap", err)
		vecs, _ := s.MemoryVectors(ctx, u.ID, 0)
		if got := memoryTexts(vecs); !slices.Equal(got, []string{"u1", "e2", "e3"}) {
			t.Fatalf("items = %v, want the oldest episodic item dropped", got)
		}
	})

	t.Run("cap holds under concurrent creates", func(t *testing.T) {
		u := newUser(t, s)
		const capacity = 5
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
		)
		for range 12 {
			wg.Go(func() {
				_, err := s.CreateMemoryItem(ctx, newMemoryItem(u.ID, store.MemoryKindUser, "fact"), capacity)
				if err == nil {
					mu.Lock()
					created++
					mu.Unlock()
				} else if !errors.Is(err, store.ErrLimitReached) {
					t.Errorf("CreateMemoryItem: %v", err)
				}
			})
		}
		wg.Wait()
		vecs, _ := s.MemoryVectors(ctx, u.ID, 0)
		if created != capacity || len(vecs) != capacity {
			t.Fatalf("created %d, stored %d; want %d", created, len(vecs), capacity)
		}
	})

	t.Run("invalid kind", func(t *testing.T) {
		u := newUser(t, s)
		_, err := s.CreateMemoryItem(ctx, newMemoryItem(u.ID, "gossip", "x"), 0)
		wantErr(t, "CreateMemoryItem(kind gossip)", err, store.ErrInvalidValue)
	})

	t.Run("follow a guest who signs in", func(t *testing.T) {
		guest, err := s.UpsertUser(ctx, store.User{Issuer: "guest", Subject: RandomName("g-"), Kind: store.UserKindGuest})
		must(t, "UpsertUser(guest)", err)
		user := newUser(t, s)
		_, err = s.CreateMemoryItem(ctx, newMemoryItem(user.ID, store.MemoryKindUser, "user fact"), 0)
		must(t, "CreateMemoryItem(user)", err)
		gi, err := s.CreateMemoryItem(ctx, newMemoryItem(guest.ID, store.MemoryKindUser, "guest fact"), 0)
		must(t, "CreateMemoryItem(guest)", err)
		_, err = s.MergeGuest(ctx, guest.ID, user.ID, now())
		must(t, "MergeGuest", err)
		vecs, _ := s.MemoryVectors(ctx, user.ID, 0)
		if got := memoryTexts(vecs); !slices.Equal(got, []string{"user fact", "guest fact"}) {
			t.Fatalf("the user's items after the merge = %v", got)
		}
		if got, err := s.GetMemoryItem(ctx, user.ID, gi.PublicID); err != nil || got.UserID != user.ID {
			t.Fatalf("the guest's item for the user: %+v, %v", got, err)
		}
		if vecs, _ := s.MemoryVectors(ctx, guest.ID, 0); len(vecs) != 0 {
			t.Fatalf("the guest still has %v", memoryTexts(vecs))
		}
	})

	t.Run("vectors of the newest max only, also past the cap after merges", func(t *testing.T) {
		user := newUser(t, s)
		for _, text := range []string{"u1", "u2", "u3"} {
			_, err := s.CreateMemoryItem(ctx, newMemoryItem(user.ID, store.MemoryKindUser, text), 3)
			must(t, "CreateMemoryItem", err)
		}
		for _, text := range []string{"g1", "g2", "g3"} {
			guest, err := s.UpsertUser(ctx, store.User{Issuer: "guest", Subject: RandomName("g-"), Kind: store.UserKindGuest})
			must(t, "UpsertUser(guest)", err)
			_, err = s.CreateMemoryItem(ctx, newMemoryItem(guest.ID, store.MemoryKindUser, text), 3)
			must(t, "CreateMemoryItem(guest)", err)
			_, err = s.MergeGuest(ctx, guest.ID, user.ID, now())
			must(t, "MergeGuest", err)
		}
		all, err := s.MemoryVectors(ctx, user.ID, 0)
		must(t, "MemoryVectors(all)", err)
		if got := memoryTexts(all); !slices.Equal(got, []string{"u1", "u2", "u3", "g1", "g2", "g3"}) {
			t.Fatalf("every item = %v", got)
		}
		newest, err := s.MemoryVectors(ctx, user.ID, 3)
		must(t, "MemoryVectors(3)", err)
		if got := memoryTexts(newest); !slices.Equal(got, []string{"g1", "g2", "g3"}) {
			t.Fatalf("the newest 3 = %v, want g1 g2 g3, oldest first", got)
		}
	})

	t.Run("go with their user", func(t *testing.T) {
		guest, err := s.UpsertUser(ctx, store.User{Issuer: "guest", Subject: RandomName("g-"), Kind: store.UserKindGuest})
		must(t, "UpsertUser(guest)", err)
		it, err := s.CreateMemoryItem(ctx, newMemoryItem(guest.ID, store.MemoryKindUser, "guest fact"), 0)
		must(t, "CreateMemoryItem", err)
		_, err = s.Purge(ctx, store.RetentionPolicy{GuestsIdleSince: time.Now().Add(time.Hour)})
		must(t, "Purge", err)
		if _, err := s.GetUser(ctx, guest.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the idle guest was not purged: %v", err)
		}
		_, err = s.GetMemoryItem(ctx, guest.ID, it.PublicID)
		wantErr(t, "GetMemoryItem(purged guest)", err, store.ErrNotFound)
		if vecs, _ := s.MemoryVectors(ctx, guest.ID, 0); len(vecs) != 0 {
			t.Fatalf("the purged guest's memory remains: %v", memoryTexts(vecs))
		}
	})
}
