package memory

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/memory/memprompt"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/openai"
	"github.com/caddy-llm/gateway/handlers/provider/providertest"
	"github.com/caddy-llm/gateway/store"
	storemem "github.com/caddy-llm/gateway/store/memory"
)

// waitItems waits until the user has n items (the workers run in the
// background) and returns their texts by kind.
func waitItems(t *testing.T, st store.Store, userID int64, n int) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		items, err := st.MemoryVectors(context.Background(), userID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) >= n || time.Now().After(deadline) {
			out := map[string][]string{}
			for _, it := range items {
				if it.EmbeddingModel != testModel || len(it.Embedding) == 0 {
					t.Errorf("item %q has no vector of %s", it.Text, testModel)
				}
				out[it.Kind] = append(out[it.Kind], it.Text)
			}
			for _, texts := range out {
				sort.Strings(texts)
			}
			if len(items) != n {
				t.Fatalf("%d items, want %d: %v", len(items), n, out)
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestObserveLearnsFromTurns(t *testing.T) {
	f := newRecallFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.svc.Run(ctx)

	f.svc.Observe(conversation.Observation{
		UserID: f.userID, ConversationPublicID: "conv_1", ProjectPublicID: "proj_1",
		User:      "Hello there. I live in Lyon. My dog is called Rex. The project uses Go. What is the weather?",
		Assistant: "Sunny.",
	})
	got := waitItems(t, f.st, f.userID, 4)
	if want := []string{"I live in Lyon.", "My dog is called Rex."}; !slices.Equal(got[store.MemoryKindUser], want) {
		t.Errorf("user facts = %v, want %v", got[store.MemoryKindUser], want)
	}
	if want := []string{"The project uses Go."}; !slices.Equal(got[store.MemoryKindProject], want) {
		t.Errorf("project facts = %v, want %v", got[store.MemoryKindProject], want)
	}
	if want := []string{"The user said: Hello there."}; !slices.Equal(got[store.MemoryKindEpisodic], want) {
		t.Errorf("episodes = %v, want %v", got[store.MemoryKindEpisodic], want)
	}
	page, _ := f.st.ListMemoryItems(ctx, f.userID, store.MemoryFilter{Kind: store.MemoryKindProject}, store.ListOptions{Limit: 5})
	if len(page.Items) != 1 || page.Items[0].ProjectPublicID != "proj_1" || page.Items[0].ConversationPublicID != "conv_1" {
		t.Errorf("project fact = %+v, want it in proj_1 from conv_1", page.Items)
	}

	// Outside a project, project statements are not project facts; the
	// same fact again replaces the older item rather than adding one.
	f.svc.Observe(conversation.Observation{
		UserID: f.userID, ConversationPublicID: "conv_2",
		User: "I live in Lyon. The project uses Go.", Assistant: "Noted.",
	})
	got = waitItems(t, f.st, f.userID, 5) // + one episode
	if want := []string{"I live in Lyon.", "My dog is called Rex."}; !slices.Equal(got[store.MemoryKindUser], want) {
		t.Errorf("user facts after a repeat = %v, want %v (no duplicate)", got[store.MemoryKindUser], want)
	}
	if len(got[store.MemoryKindProject]) != 1 || len(got[store.MemoryKindEpisodic]) != 2 {
		t.Errorf("after a turn in no project: %v", got)
	}
}

func TestObserveGivesUpOnAnOutage(t *testing.T) {
	down := providertest.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		providertest.WriteJSON(w, http.StatusServiceUnavailable, providertest.ErrorBody("overloaded", "server_error", "overloaded"))
	}))
	up, err := openai.New(openai.Config{ID: "down", BaseURL: down.URL + "/v1", ModelMap: map[string]string{"extractor": ""}})
	if err != nil {
		t.Fatal(err)
	}
	f := newRecallFixture(t)
	router, err := provider.NewRouter([]provider.Provider{up, f.mock}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	svc := New(Config{Store: f.st, Router: router, EmbedModel: testModel, ExtractModel: "extractor",
		Attempts: 3, RetryBackoff: time.Millisecond, Logger: zap.New(core)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.Run(ctx)

	svc.Observe(conversation.Observation{UserID: f.userID, ConversationPublicID: "conv_1", User: "I live in Oslo.", Assistant: "Nice."})
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessageSnippet("gave up").Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	gaveUp := logs.FilterMessageSnippet("gave up").All()
	if len(gaveUp) != 1 || gaveUp[0].Level != zap.WarnLevel {
		t.Fatalf("log = %v, want one warning that the turn was given up", logs.All())
	}
	if n := len(down.Requests()); n != 3 {
		t.Fatalf("the upstream got %d extraction requests, want 3 attempts", n)
	}
	for _, e := range logs.All() {
		for _, fld := range e.Context {
			if fld.String == "I live in Oslo." || fld.String == "Nice." {
				t.Fatalf("the log holds the turn's content: %v", e)
			}
		}
	}
	if items, _ := f.st.MemoryVectors(ctx, f.userID, 0); len(items) != 0 {
		t.Fatalf("items stored despite the outage: %v", items)
	}
}

func TestObserveQueueIsBounded(t *testing.T) {
	f := newRecallFixture(t)
	core, logs := observer.New(zap.InfoLevel)
	svc := New(Config{Store: f.st, Router: f.svc.cfg.Router, EmbedModel: testModel, ExtractModel: testModel, QueueSize: 2, Logger: zap.New(core)})
	// No workers run: the third turn finds the queue full, and Observe
	// returns at once all the same.
	for range 3 {
		svc.Observe(conversation.Observation{UserID: f.userID, User: "I like tea.", Assistant: "ok"})
	}
	if n := logs.FilterMessageSnippet("queue is full").Len(); n != 1 {
		t.Fatalf("%d queue-full warnings, want 1", n)
	}
}

func TestExtractionProtocol(t *testing.T) {
	ans := memprompt.Mock(memprompt.Transcript("I'm a nurse! I work nights. We use Postgres.\nmy cat is old", "ok", true))
	got := memprompt.Parse(ans)
	if want := []string{"I'm a nurse!", "I work nights.", "my cat is old"}; !slices.Equal(got.User, want) {
		t.Errorf("user facts = %v, want %v (answer %q)", got.User, want, ans)
	}
	if want := []string{"We use Postgres."}; !slices.Equal(got.Project, want) {
		t.Errorf("project facts = %v, want %v", got.Project, want)
	}
	if got.Summary != "The user said: I'm a nurse!" {
		t.Errorf("summary = %q", got.Summary)
	}
	// A chatty model's answer: preamble and bullets are fine, NONE is nothing.
	got = memprompt.Parse("Sure! Here you go:\n- USER: Likes jazz.\n* project: none\nSummary: Talked about music.")
	if !slices.Equal(got.User, []string{"Likes jazz."}) || len(got.Project) != 0 || got.Summary != "Talked about music." {
		t.Errorf("parsed %+v", got)
	}
	if got := memprompt.Parse("NONE"); len(got.User)+len(got.Project) != 0 || got.Summary != "" {
		t.Errorf("NONE parsed as %+v", got)
	}
}

// An embedding model that cannot embed (a chat model's server answers 404)
// makes memory rest: the next turns pay no failing call.
func TestMemoryRestsWhenTheEmbeddingModelRefuses(t *testing.T) {
	chatOnly := providertest.NewUpstream(t, &providertest.OpenAIServer{})
	up, err := openai.New(openai.Config{ID: "chat", BaseURL: chatOnly.URL + "/v1", ModelMap: map[string]string{"chat-model": ""}})
	if err != nil {
		t.Fatal(err)
	}
	f := newRecallFixture(t)
	f.add(t, store.MemoryKindUser, "I like Paris.", "", "")
	router, err := provider.NewRouter([]provider.Provider{up}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	svc := New(Config{Store: f.st, Router: router, EmbedModel: "chat-model", ExtractModel: "chat-model", Logger: zap.New(core)})
	q := conversation.RecallQuery{UserID: f.userID, Text: "Paris", Config: allOn()}
	for range 3 {
		if got := svc.Recall(context.Background(), q); got != "" {
			t.Fatalf("recalled %q without an embedding", got)
		}
		svc.Observe(conversation.Observation{UserID: f.userID, User: "I like tea.", Assistant: "ok"})
	}
	if n := len(chatOnly.Requests()); n != 1 {
		t.Fatalf("the upstream got %d requests, want the one that was refused", n)
	}
	if len(svc.intake) != 0 {
		t.Fatalf("%d turns queued while memory rests", len(svc.intake))
	}
	if n := logs.FilterMessageSnippet("refused to embed").FilterLevelExact(zap.WarnLevel).Len(); n != 1 {
		t.Fatalf("%d warnings that the model refused, want 1: %v", n, logs.All())
	}
}

// A turn recorded by a process that stopped before observing it is
// observed by the next one, and its record goes once it is.
func TestObserveTurnsLeftByAnotherProcess(t *testing.T) {
	f := newRecallFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := f.st.AddPendingObservation(ctx, store.PendingObservation{
		UserID: f.userID, ConversationPublicID: "conv_1", UserText: "I work at a bakery.", AssistantText: "Nice.",
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// One that a dead worker held: observed once its claim expires.
	held, err := f.st.AddPendingObservation(ctx, store.PendingObservation{
		UserID: f.userID, ConversationPublicID: "conv_2", UserText: "I have two cats.", AssistantText: "Nice.",
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.st.ClaimPendingObservation(ctx, held.ID, time.Now(), time.Now().Add(200*time.Millisecond)); !ok {
		t.Fatal("claiming the held turn failed")
	}
	svc := New(Config{Store: f.st, Router: f.svc.cfg.Router, EmbedModel: testModel, ExtractModel: testModel, SweepInterval: 50 * time.Millisecond})
	go svc.Run(ctx)
	got := waitItems(t, f.st, f.userID, 4)
	if want := []string{"I have two cats.", "I work at a bakery."}; !slices.Equal(got[store.MemoryKindUser], want) {
		t.Fatalf("user facts = %v, want %v", got[store.MemoryKindUser], want)
	}
	waitNoPending(t, f.st)
}

// waitNoPending waits until no turn waits to be observed (each was observed
// or passed over, and its record deleted).
func waitNoPending(t *testing.T, st store.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Claims far in the future see every record, held or not; the
		// store is the test's own.
		rest, err := st.ClaimPendingObservations(context.Background(), time.Now().Add(time.Hour), time.Now().Add(2*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("records left after observation: %+v", rest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A turn waiting when its user turns observation off is not observed.
func TestObserveHonoursSettingsChangedSince(t *testing.T) {
	f := newRecallFixture(t)
	counted := &countingDeletes{Store: f.st}
	svc := New(Config{Store: counted, Router: f.svc.cfg.Router, EmbedModel: testModel, ExtractModel: testModel})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := f.st.UpdateSettings(ctx, f.userID, conversation.DefaultSettings(), func(us *store.UserSettings) error {
		us.MemoryConfig.ObserveEnabled = false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Queued before the change (Run starts after it), with another
	// user's turn whose observation shows the worker ran.
	svc.Observe(conversation.Observation{UserID: f.userID, ConversationPublicID: "conv_1", User: "I like opera.", Assistant: "ok"})
	other, _ := f.st.UpsertUser(ctx, store.User{Issuer: "t", Subject: "still-on", Kind: store.UserKindUser})
	svc.Observe(conversation.Observation{UserID: other.ID, ConversationPublicID: "conv_2", User: "I like jazz.", Assistant: "ok"})
	go svc.Run(ctx)
	waitItems(t, f.st, other.ID, 2)
	// Both records are deleted once their turns are done with.
	deadline := time.Now().Add(10 * time.Second)
	for counted.n.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := counted.n.Load(); n < 2 {
		t.Fatalf("%d records deleted, want both turns done with", n)
	}
	if items, _ := f.st.MemoryVectors(ctx, f.userID, 0); len(items) != 0 {
		t.Fatalf("observed after observe_enabled was turned off: %v", items)
	}
}

// countingDeletes counts the pending records deleted.
type countingDeletes struct {
	store.Store
	n atomic.Int64
}

func (c *countingDeletes) DeletePendingObservation(ctx context.Context, id int64) error {
	c.n.Add(1)
	return c.Store.DeletePendingObservation(ctx, id)
}

// A user flooding turns faster than the workers observe them has at most
// maxPendingPerUser of them waiting in the store; the rest are not
// observed, and another user's turn is still recorded.
func TestObserveFloodIsBoundedPerUser(t *testing.T) {
	st := storemem.New()
	f := newRecallFixtureOn(t, st)
	other, err := st.UpsertUser(context.Background(), store.User{Issuer: "t", Subject: "other", Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{Store: st, Router: f.svc.cfg.Router, EmbedModel: testModel, ExtractModel: testModel, QueueSize: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Only the recorder runs: no worker takes the turns away.
	done := make(chan struct{})
	go func() { defer close(done); svc.record(ctx) }()
	const flood = 3 * maxPendingPerUser
	for i := range flood {
		svc.Observe(conversation.Observation{UserID: f.userID, ConversationPublicID: "conv_1", User: fmt.Sprintf("Fact number %d.", i), Assistant: "Ok."})
	}
	svc.Observe(conversation.Observation{UserID: other.ID, ConversationPublicID: "conv_2", User: "I live in Oslo.", Assistant: "Nice."})
	waiting := func() map[int64]int {
		got, err := st.ClaimPendingObservations(ctx, time.Now(), time.Now().Add(time.Millisecond), 10*flood)
		if err != nil {
			t.Fatal(err)
		}
		n := map[int64]int{}
		for _, p := range got {
			n[p.UserID]++
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(svc.intake) > 0 || waiting()[other.ID] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("turns still queued: %d; waiting: %v", len(svc.intake), waiting())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the claims above expired
	n := waiting()
	if n[f.userID] != maxPendingPerUser || n[other.ID] != 1 {
		t.Fatalf("waiting per user: %v, want %d of the flooder's %d turns and the other user's one", n, maxPendingPerUser, flood)
	}
	cancel()
	<-done
}
