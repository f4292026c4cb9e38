package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// The conformance suite with every replica-eligible read on the read pool
// (the database itself as its own "replica", and no read-your-writes
// window): the read methods behave the same on either pool.
func TestConformanceReadsOnReadPool(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		t.Helper()
		dsn := storetest.NewMigratedPostgresDatabase(t)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s, err := postgres.Open(ctx, postgres.Config{URL: dsn, ReadURL: dsn, ReadYourWritesWindow: -1, QueryTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// A replica that does not answer neither fails the start nor the reads:
// they go to the primary, and PingReplica reports it unavailable.
func TestReadReplicaDownReadsFromPrimary(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, postgres.Config{
		URL:            storetest.NewPostgresDatabase(t),
		ReadURL:        "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable",
		ConnectTimeout: time.Second,
	})
	if err != nil {
		t.Fatalf("Open with an unreachable replica: %v", err)
	}
	defer s.Close()
	if !s.HasReplica() {
		t.Fatal("HasReplica = false")
	}
	if err := s.PingReplica(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("PingReplica = %v, want ErrUnavailable", err)
	}
	u, err := s.UpsertUser(ctx, store.User{PublicID: "u-replica-down", Kind: store.UserKindGuest})
	if err != nil {
		t.Fatalf("UpsertUser: %v", err)
	}
	// Past any read-your-writes window: the read is a replica read.
	if _, total, err := s.ListConversations(ctx, u.ID, store.ListOptions{Limit: 10}); err != nil || total != 0 {
		t.Fatalf("ListConversations with the replica down = %d, %v", total, err)
	}
}
