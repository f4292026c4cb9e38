package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Default addresses of the services the tests need. The README's test command
// exports TEST_DATABASE_URL and TEST_REDIS_URL when it starts throwaway
// instances; otherwise the standard local ports are used.
const (
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// AdminPostgresURL is the PostgreSQL URL tests connect to for creating their
// databases.
func AdminPostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultPostgresURL
}

// RedisURL returns the Redis URL for tests. Tests that use it must keep their
// keys apart with a prefix of their own (see RandomName).
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultRedisURL
}

// RandomName returns a short random lowercase name, for databases and key
// prefixes that must not collide between tests running at once.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// NewPostgresDatabase creates an empty database for the test and returns its
// URL; the database is dropped when the test ends. A PostgreSQL that cannot be
// reached fails the test: the suite is meant to run against a real one (the
// README's test command starts one when none is running). Tests that only
// need the schema in place use the faster NewMigratedPostgresDatabase.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	return newPostgresDatabase(t, false)
}

// newPostgresDatabase creates the test's database, empty or as a copy of the
// migrations' template, and drops it when the test ends.
func newPostgresDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	admin := AdminPostgresURL()
	if _, err := url.Parse(admin); err != nil {
		t.Fatalf("parsing TEST_DATABASE_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), templateTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL at %s (set TEST_DATABASE_URL, or run the README's test command): %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	name := RandomName("llmgw_test_")
	if migrated {
		err = createFromTemplate(ctx, conn, admin, name)
	} else {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	}
	if err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dropping test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	return databaseURL(admin, name)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
