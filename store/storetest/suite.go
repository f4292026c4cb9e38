// Package storetest is the conformance suite that every store.Store
// implementation passes (Run), and the environment the project's tests share:
// a fresh PostgreSQL database per test (NewPostgresDatabase, or
// NewMigratedPostgresDatabase with the schema in place) and the Redis
// address (RedisURL) with key prefixes that do not collide (RandomName).
package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// Run is the conformance suite every store.Store implementation must pass
// (the pattern of Dex's storage/conformance). newStore returns a new, empty
// store for one group of tests and arranges its cleanup with t.Cleanup. Each
// group works with users of its own, so groups never see each other's data;
// they run in parallel, each on a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Basics", testBasics},
		{"Users", testUsers},
		{"RefreshTokens", testRefreshTokens},
		{"SigningKeys", testSigningKeys},
		{"APIKeys", testAPIKeys},
		{"Projects", testProjects},
		{"Conversations", testConversations},
		{"Items", testItems},
		{"Isolation", testIsolation},
		{"Pagination", testPagination},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Settings", testSettings},
		{"Copies", testCopies},
		{"MergeGuest", testMergeGuest},
		{"DeletedCursor", testDeletedCursor},
		{"Retention", testRetention},
		{"Responses", testResponses},
		{"Turns", testTurns},
		{"MemoryItems", testMemoryItems},                 // memory_items.go
		{"PendingObservations", testPendingObservations}, // memory_pending.go
		{"Usage", testUsage},
		{"UsageLimits", testUsageLimits},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newStore(t))
		})
	}
}

func testBasics(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
	if k := s.Kind(); k != "postgres" && k != "memory" {
		t.Errorf("Kind() = %q, want postgres or memory", k)
	}
}

// now returns the current time as every store gives it back: UTC, whole
// microseconds (PostgreSQL's precision).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// newUser creates a user with a fresh identity.
func newUser(t *testing.T, s store.Store) store.User {
	t.Helper()
	u, err := s.UpsertUser(t.Context(), store.User{
		Issuer:   "https://issuer.test",
		Subject:  RandomName("sub-"),
		Kind:     store.UserKindUser,
		Username: "someone",
	})
	if err != nil {
		t.Fatalf("UpsertUser: %v", err)
	}
	return u
}

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

// must fails the test at once on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return t.Format(time.RFC3339Nano)
}

// hash returns a distinct 32-byte value standing for a SHA-256 hash.
func hash(name string) []byte {
	h := make([]byte, 32)
	copy(h, RandomName(name))
	return h
}

func ptr[T any](v T) *T { return &v }

func reversed[T any](s []T) []T {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
