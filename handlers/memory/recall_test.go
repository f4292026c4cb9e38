package memory

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/store"
	storemem "github.com/caddy-llm/gateway/store/memory"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// recallFixture is a user with items of every kind on the in-memory store.
type recallFixture struct {
	svc    *Service
	st     store.Store
	mock   *countingMock
	userID int64
}

func newRecallFixture(t testing.TB) *recallFixture {
	t.Helper()
	return newRecallFixtureOn(t, storemem.New())
}

func newRecallFixtureOn(t testing.TB, st store.Store) *recallFixture {
	t.Helper()
	router, cm := mockRouter(t)
	u, err := st.UpsertUser(context.Background(), store.User{Issuer: "t", Subject: "recall", Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{Store: st, Router: router, EmbedModel: testModel, ExtractModel: testModel})
	return &recallFixture{svc: svc, st: st, mock: cm, userID: u.ID}
}

// add stores an item embedded by the service.
func (f *recallFixture) add(t testing.TB, kind, text, project, conv string) {
	t.Helper()
	vecs, err := f.svc.embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.st.CreateMemoryItem(context.Background(), store.MemoryItem{
		UserID: f.userID, Kind: kind, Text: text, ProjectPublicID: project, ConversationPublicID: conv,
		Source: store.MemorySourceObserved, Embedding: vecs[0], EmbeddingModel: testModel,
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
}

func allOn() store.MemoryConfig {
	return store.MemoryConfig{
		Enabled: true, ObserveEnabled: true, InjectUserCore: true, InjectSemantic: true, InjectEpisodic: true,
		MaxUserItems: 20, MaxProjectItems: 50, MaxEpisodicItems: 20, MinSimilarity: 0,
	}
}

func TestRecall(t *testing.T) {
	f := newRecallFixture(t)
	f.add(t, store.MemoryKindUser, "I live in Paris near the river.", "", "conv_a")
	f.add(t, store.MemoryKindUser, "I like green tea.", "", "conv_a")
	f.add(t, store.MemoryKindProject, "The project gateway is written in Go.", "proj_1", "conv_b")
	f.add(t, store.MemoryKindProject, "The project telescope uses Rust.", "proj_2", "conv_c")
	f.add(t, store.MemoryKindEpisodic, "The user said: I live in Paris.", "", "conv_a")
	f.add(t, store.MemoryKindEpisodic, "The user said: tell me about Paris.", "", "conv_now")

	query := func(cfg store.MemoryConfig) string {
		return f.svc.Recall(context.Background(), conversation.RecallQuery{
			UserID: f.userID, ConversationPublicID: "conv_now", ProjectPublicID: "proj_1",
			Text: "Where do I live? Paris? And the project gateway in Go?", Config: cfg,
		})
	}
	all := query(allOn())
	for _, want := range []string{
		MemoryIntro, headingUser, "- I live in Paris near the river.", "- I like green tea.",
		headingProject, "- The project gateway is written in Go.",
		headingEpisodic, "- The user said: I live in Paris.",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("memory message lacks %q:\n%s", want, all)
		}
	}
	// Another project's facts and this conversation's own episode never.
	for _, never := range []string{"telescope", "tell me about Paris"} {
		if strings.Contains(all, never) {
			t.Errorf("memory message holds %q:\n%s", never, all)
		}
	}
	// Sections in order, the best item first.
	if u, p, e := strings.Index(all, headingUser), strings.Index(all, headingProject), strings.Index(all, headingEpisodic); !(u < p && p < e) {
		t.Errorf("sections out of order:\n%s", all)
	}
	if strings.Index(all, "Paris near") > strings.Index(all, "green tea") {
		t.Errorf("the closer fact is not first:\n%s", all)
	}

	// Each toggle removes exactly its part.
	for _, tc := range []struct {
		name    string
		change  func(*store.MemoryConfig)
		missing []string
	}{
		{"inject_user_core off", func(c *store.MemoryConfig) { c.InjectUserCore = false }, []string{headingUser, "Paris near", "green tea"}},
		{"inject_semantic off", func(c *store.MemoryConfig) { c.InjectSemantic = false }, []string{headingProject, "written in Go"}},
		{"inject_episodic off", func(c *store.MemoryConfig) { c.InjectEpisodic = false }, []string{headingEpisodic, "The user said"}},
		{"max_user_items 1", func(c *store.MemoryConfig) { c.MaxUserItems = 1 }, []string{"green tea"}},
		{"max_project_items 0", func(c *store.MemoryConfig) { c.MaxProjectItems = 0 }, []string{headingProject, "written in Go"}},
		{"max_episodic_items 0", func(c *store.MemoryConfig) { c.MaxEpisodicItems = 0 }, []string{headingEpisodic, "The user said"}},
		{"min_similarity 0.3", func(c *store.MemoryConfig) { c.MinSimilarity = 0.3 }, []string{"green tea"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := allOn()
			tc.change(&cfg)
			got := query(cfg)
			want := all
			for _, m := range tc.missing {
				if !strings.Contains(all, m) {
					t.Fatalf("%q is not in the full message", m)
				}
				if strings.Contains(got, m) {
					t.Errorf("with %s the message still holds %q:\n%s", tc.name, m, got)
				}
			}
			// Everything else stays.
			for _, line := range strings.Split(want, "\n") {
				removed := false
				for _, m := range tc.missing {
					removed = removed || strings.Contains(line, m)
				}
				if !removed && !strings.Contains(got, line) {
					t.Errorf("with %s the line %q is gone too:\n%s", tc.name, line, got)
				}
			}
		})
	}

	if got := query(store.MemoryConfig{Enabled: true, MinSimilarity: 0.99, InjectUserCore: true, MaxUserItems: 3}); got != "" {
		t.Errorf("min_similarity 0.99 recalled:\n%s", got)
	}

	// Nothing wanted, or nothing stored: no embedding call at all.
	before := f.mock.embeddings.Load()
	if got := query(store.MemoryConfig{Enabled: true}); got != "" {
		t.Errorf("nothing wanted recalled %q", got)
	}
	other, _ := f.st.UpsertUser(context.Background(), store.User{Issuer: "t", Subject: "empty", Kind: store.UserKindUser})
	if got := f.svc.Recall(context.Background(), conversation.RecallQuery{UserID: other.ID, Text: "Paris", Config: allOn()}); got != "" {
		t.Errorf("another user recalled %q", got)
	}
	if n := f.mock.embeddings.Load() - before; n != 0 {
		t.Errorf("%d embedding calls for recalls that could find nothing", n)
	}
}

func TestRecallTokenBudget(t *testing.T) {
	f := newRecallFixture(t)
	f.svc.cfg.TokenBudget = 60 // 240 characters
	for i := range 10 {
		f.add(t, store.MemoryKindUser, fmt.Sprintf("I like Paris number %d, with a fact long enough to count.", i), "", "")
	}
	got := f.svc.Recall(context.Background(), conversation.RecallQuery{UserID: f.userID, Text: "Paris", Config: allOn()})
	if got == "" || len(got) > 240 {
		t.Fatalf("message of %d characters, want some and at most 240:\n%s", len(got), got)
	}
	if n := strings.Count(got, "\n- "); n < 1 || n >= 10 {
		t.Fatalf("%d items within the budget, want some but not all", n)
	}
}

func TestRecallSeesChangesThroughTheStamp(t *testing.T) {
	f := newRecallFixture(t)
	f.add(t, store.MemoryKindUser, "I like Paris.", "", "")
	q := conversation.RecallQuery{UserID: f.userID, Text: "Paris", Config: allOn()}
	if got := f.svc.Recall(context.Background(), q); !strings.Contains(got, "I like Paris.") {
		t.Fatalf("recall = %q", got)
	}
	// Written behind the service's back (another replica, say).
	f.add(t, store.MemoryKindUser, "I love Paris in spring.", "", "")
	if got := f.svc.Recall(context.Background(), q); !strings.Contains(got, "spring") {
		t.Fatalf("recall after an added item = %q", got)
	}
	if _, err := f.st.DeleteMemoryItems(context.Background(), f.userID); err != nil {
		t.Fatal(err)
	}
	if got := f.svc.Recall(context.Background(), q); got != "" {
		t.Fatalf("recall after forgetting everything = %q", got)
	}
}

// BenchmarkRecall measures a recall for a user with 1,000 items: the stamp
// read (a query on PostgreSQL), the embedding of the message (the
// in-process mock: microseconds; a real model adds its own call), the
// ranking and the message. The vectors are cached, as after a user's first
// turn.
func BenchmarkRecall(b *testing.B) {
	for _, tc := range []struct {
		store string
		dims  int
	}{{"memory", 256}, {"memory", 1536}, {"postgres", 256}, {"postgres", 1536}} {
		dims := tc.dims
		b.Run(fmt.Sprintf("store=%s/items=1000/dims=%d", tc.store, dims), func(b *testing.B) {
			var st store.Store = storemem.New()
			if tc.store == "postgres" {
				st = openPostgres(b)
			}
			f := newRecallFixtureOn(b, st)
			f.svc.cfg.EmbedDimensions = dims
			ctx := context.Background()
			for i := range 1000 {
				kind := []string{store.MemoryKindUser, store.MemoryKindEpisodic}[i%2]
				f.add(b, kind, fmt.Sprintf("I like topic %d and subject %d.", i, i*7), "", "")
			}
			q := conversation.RecallQuery{UserID: f.userID, Text: "Which topic 42 do I like?", Config: allOn()}
			if got := f.svc.Recall(ctx, q); got == "" {
				b.Fatal("nothing recalled")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				f.svc.Recall(ctx, q)
			}
		})
	}
}

// openPostgres opens a store on a new migrated database.
func openPostgres(t testing.TB) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, postgres.Config{URL: storetest.NewMigratedPostgresDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// The cache keeps within its bounds of users and bytes, and recalls stay
// right when a set is not kept.
func TestVectorCacheBounds(t *testing.T) {
	st := storemem.New()
	router, _ := mockRouter(t)
	svc := New(Config{Store: st, Router: router, EmbedModel: testModel, MaxCachedUsers: 2, MaxCacheBytes: 8 << 10})
	ctx := context.Background()
	var users []int64
	for i := range 4 {
		u, _ := st.UpsertUser(ctx, store.User{Issuer: "t", Subject: fmt.Sprint("cache-", i), Kind: store.UserKindUser})
		users = append(users, u.ID)
		f := &recallFixture{svc: svc, st: st, userID: u.ID}
		n := 1
		if i == 3 {
			n = 20 // 20 × 256 dimensions × 4 bytes: more than the cache holds
		}
		for j := range n {
			f.add(t, store.MemoryKindUser, fmt.Sprintf("I like Paris %d.", j), "", "")
		}
	}
	for _, id := range users {
		if got := svc.Recall(ctx, conversation.RecallQuery{UserID: id, Text: "Paris", Config: allOn()}); !strings.Contains(got, "I like Paris 0.") {
			t.Fatalf("user %d recalled %q", id, got)
		}
		c := svc.cache
		c.mu.Lock()
		n, bytes := len(c.users), c.bytes
		sum := 0
		for _, set := range c.users {
			sum += set.bytes
		}
		c.mu.Unlock()
		if n > 2 || bytes > 8<<10 || bytes != sum {
			t.Fatalf("cache holds %d users, %d bytes (sets weigh %d); bounds 2 users, %d bytes", n, bytes, sum, 8<<10)
		}
	}
}

func TestRecallTextIsBounded(t *testing.T) {
	long := strings.Repeat("é", maxRecallTextBytes) // two bytes each
	got := recallText(long)
	if len(got) > maxRecallTextBytes || !utf8.ValidString(got) || len(got) < maxRecallTextBytes-1 {
		t.Fatalf("recallText kept %d bytes (valid %v)", len(got), utf8.ValidString(got))
	}
	if recallText("short") != "short" {
		t.Fatal("a short text was changed")
	}
}

// A user holding more items than max_items_per_user (guests' items merged
// into the account bring them past the cap) costs a recall no more than the
// cap: only the newest items are read, compared and cached.
func TestRecallReadsAtMostTheCap(t *testing.T) {
	st := storemem.New()
	router, _ := mockRouter(t)
	svc := New(Config{Store: st, Router: router, EmbedModel: testModel, MaxItemsPerUser: 3})
	ctx := context.Background()
	u, _ := st.UpsertUser(ctx, store.User{Issuer: "t", Subject: "over-cap", Kind: store.UserKindUser})
	f := &recallFixture{svc: svc, st: st, userID: u.ID}
	f.add(t, store.MemoryKindUser, "I live in Paris.", "", "") // the oldest: past the cap
	for j := range 9 {
		f.add(t, store.MemoryKindUser, fmt.Sprintf("I like Paris café number %d.", j), "", "")
	}
	got := svc.Recall(ctx, conversation.RecallQuery{UserID: u.ID, Text: "Do I live in Paris? Which café?", Config: allOn()})
	if strings.Contains(got, "I live in Paris.") || !strings.Contains(got, "number 8") {
		t.Fatalf("recalled %q: want only the newest 3 items considered", got)
	}
	svc.cache.mu.Lock()
	defer svc.cache.mu.Unlock()
	if set := svc.cache.users[u.ID]; set == nil || len(set.items) != 3 {
		t.Fatalf("cached set: %+v, want the newest 3 items", set)
	}
}
