package conversation

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// pgCounter counts what a PostgreSQL store sends: round trips (a query, or
// a batch of them) and transactions (a query outside BEGIN…COMMIT, a batch,
// or BEGIN…COMMIT), each of which ends in a commit.
type pgCounter struct {
	mu                  sync.Mutex
	roundTrips, commits int
	inTx                int
}

func (c *pgCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roundTrips++
	switch strings.ToLower(strings.TrimSpace(data.SQL)) {
	case "begin":
		c.inTx++
		c.commits++
	case "commit", "rollback":
		c.inTx--
	default:
		if c.inTx == 0 {
			c.commits++
		}
	}
	return ctx
}

func (c *pgCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *pgCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roundTrips++
	c.commits++
	return ctx
}

func (c *pgCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *pgCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (c *pgCounter) take() (roundTrips, commits int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	roundTrips, commits = c.roundTrips, c.commits
	c.roundTrips, c.commits = 0, 0
	return roundTrips, commits
}

// withoutTurnStore hides the store's TurnStore, so that Recorder takes the
// path of a store without it: the queries a turn took before.
type withoutTurnStore struct{ store.Store }

// A persisted turn on an existing, titled conversation costs PostgreSQL two
// round trips and two commits: one to start it (append the user message,
// read the conversation, instruction and settings), one to append the reply.
func TestTurnRoundTripsOnPostgres(t *testing.T) {
	ctx := context.Background()
	counter := &pgCounter{}
	st, err := postgres.Open(ctx, postgres.Config{URL: storetest.NewMigratedPostgresDatabase(t), Tracer: counter})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	u, err := st.UpsertUser(ctx, store.User{Issuer: "test", Subject: storetest.RandomName("u-"), Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	conv, _, err := st.CreateConversation(ctx, store.Conversation{UserID: u.ID, Title: "Titled"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hello := UserItem([]string{"Hello there"}, nil)
	turn := func(s store.Store) (int, int) {
		counter.take()
		r, err := (&Recorder{Store: s}).Begin(ctx, Turn{UserID: u.ID, ConversationID: conv.PublicID, Write: true, Title: "Hello there", User: &hello})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Finish(ctx, Reply{Text: "Hi!"}); err != nil {
			t.Fatal(err)
		}
		return counter.take()
	}
	beforeTrips, beforeCommits := turn(withoutTurnStore{st})
	trips, commits := turn(st)
	t.Logf("a persisted turn: %d round trips and %d commits (without TurnStore: %d and %d)", trips, commits, beforeTrips, beforeCommits)
	if trips != 2 || commits != 2 {
		t.Errorf("a persisted turn took %d round trips and %d commits, want 2 and 2", trips, commits)
	}
	page, err := st.ListItems(ctx, u.ID, conv.PublicID, store.ListOptions{Order: store.OrderAsc})
	if err != nil || len(page.Items) != 4 || page.Items[2].Role != RoleUser || page.Items[3].Role != "assistant" {
		t.Fatalf("items after two turns: %+v (%v)", page.Items, err)
	}
}
