package httpxtest

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// Store is one store implementation the handler suites run on.
type Store struct {
	Name string
	// New returns an empty store, closed when the test ends.
	New func(t testing.TB) store.Store
}

// Stores are the implementations every handler suite runs on. PostgreSQL
// must be reachable (see storetest.NewMigratedPostgresDatabase): a test that cannot
// reach it fails.
var Stores = []Store{
	{Name: "memory", New: func(t testing.TB) store.Store {
		st := memory.New()
		t.Cleanup(func() { _ = st.Close() })
		return st
	}},
	{Name: "postgres", New: func(t testing.TB) store.Store {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := postgres.Open(ctx, postgres.Config{URL: storetest.NewMigratedPostgresDatabase(t), QueryTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("opening the PostgreSQL store: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}},
}
