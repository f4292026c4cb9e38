package auth

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// openPostgres returns n stores (n connection pools, as n replicas would
// have) on one fresh database.
func openPostgres(t *testing.T, n int) []store.Store {
	t.Helper()
	url := storetest.NewMigratedPostgresDatabase(t)
	stores := make([]store.Store, n)
	for i := range stores {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := postgres.Open(ctx, postgres.Config{URL: url})
		cancel()
		if err != nil {
			t.Fatalf("opening PostgreSQL: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[i] = st
	}
	return stores
}

// TestPostgres runs the replica tests on PostgreSQL. Each has a database of
// its own; the revocation test runs alone, since it bounds how soon the other
// replica sees the revocation.
func TestPostgres(t *testing.T) {
	t.Run("revocation reaches the other replica", func(t *testing.T) {
		st := openPostgres(t, 2)
		testRevocationAcrossReplicas(t, st[0], st[1])
	})
	t.Run("replicas share signing keys", func(t *testing.T) {
		t.Parallel()
		testReplicasShareKeys(t, openPostgres(t, 1)[0])
	})
	t.Run("refresh rotation and reuse", func(t *testing.T) {
		t.Parallel()
		testRefreshRotation(t, openPostgres(t, 1)[0])
	})
	t.Run("API key lifecycle", func(t *testing.T) {
		t.Parallel()
		testAPIKeyLifecycle(t, openPostgres(t, 1)[0])
	})
}
