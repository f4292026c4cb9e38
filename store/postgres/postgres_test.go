package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// open opens a store on a fresh database of its own.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, postgres.Config{URL: storetest.NewMigratedPostgresDatabase(t), QueryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}
