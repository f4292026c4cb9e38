// Package memory is the embedded, zero-configuration implementation of
// store.Store. It keeps everything in process memory, so its data does not
// survive a restart and is not shared between replicas; it exists so that the
// gateway runs with no database at all, and it follows the same rules as
// store/postgres (both pass store/storetest).
//
// One RWMutex guards all state. It is never held across a caller's callback
// or any I/O. Records are copied on the way in and on the way out, so callers
// can never change stored state through a slice, map or pointer they hold.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	mu       sync.RWMutex
	closed   bool
	lastID   int64
	lastTime time.Time

	users          map[int64]*store.User
	userByIdentity map[identity]*store.User
	userByPublicID map[string]*store.User

	refreshByHash   map[string]*store.RefreshToken
	refreshByFamily map[string][]*store.RefreshToken

	signingKeys map[string]*store.SigningKey

	apiKeys          map[int64]*store.APIKey
	apiKeyByHash     map[string]*store.APIKey
	apiKeyByPublicID map[string]*store.APIKey
	apiKeysByUser    map[int64][]*store.APIKey

	// Soft-deleted projects are dropped: nothing can read them again, and
	// their names are free again at once.
	projectByID       map[int64]*store.Project
	projectByPublicID map[string]*store.Project
	projectsByUser    map[int64][]*store.Project // ascending (CreatedAt, ID)

	conversationByPublicID map[string]*conversation
	conversationsByUser    map[int64][]*conversation // ascending (CreatedAt, ID)

	settings map[int64]*store.UserSettings

	// responses are the stored answers of the Responses API.
	responses responseTable
	memory    memoryItems                   // memory_items.go
	pending   map[int64]*pendingObservation // memory_pending.go

	// tombstones keep the place of deleted conversations, items and
	// projects in their listings, by public id, for a while.
	tombstones map[string]tombstone
	// buriedOrder holds the tombstones' public ids in the order they were
	// buried, oldest first, for pruning.
	buriedOrder []string
	// settingsLocks serialise UpdateSettings per user (striped by user id)
	// without holding mu while the caller's apply function runs.
	settingsLocks [64]sync.Mutex

	// usage holds usage records and their hourly aggregates (usage.go).
	usage usageState
}

// conversation is a stored conversation with its items.
type conversation struct {
	rec       store.Conversation // ProjectPublicID is derived from projectID on read
	projectID int64              // 0 when in no project
	items     []*store.Item      // in append order, which is ascending ID order
	itemByID  map[string]*store.Item
}

type identity struct{ issuer, subject string }

// New returns an empty store.
func New() *Store {
	return &Store{
		users:                  make(map[int64]*store.User),
		userByIdentity:         make(map[identity]*store.User),
		userByPublicID:         make(map[string]*store.User),
		refreshByHash:          make(map[string]*store.RefreshToken),
		refreshByFamily:        make(map[string][]*store.RefreshToken),
		signingKeys:            make(map[string]*store.SigningKey),
		apiKeys:                make(map[int64]*store.APIKey),
		apiKeyByHash:           make(map[string]*store.APIKey),
		apiKeyByPublicID:       make(map[string]*store.APIKey),
		apiKeysByUser:          make(map[int64][]*store.APIKey),
		projectByID:            make(map[int64]*store.Project),
		projectByPublicID:      make(map[string]*store.Project),
		projectsByUser:         make(map[int64][]*store.Project),
		conversationByPublicID: make(map[string]*conversation),
		conversationsByUser:    make(map[int64][]*conversation),
		settings:               make(map[int64]*store.UserSettings),
		tombstones:             make(map[string]tombstone),
	}
}

// Kind implements store.Store.
func (s *Store) Kind() string { return "memory" }

// InProcess implements store.InProcess: every query is a map lookup under
// a lock.
func (s *Store) InProcess() bool { return true }

// Ping implements store.Store. It fails only after Close.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("pinging memory store: %w", store.ErrUnavailable)
	}
	return ctx.Err()
}

// Close implements store.Store. The data stays readable so that requests
// still in flight during a config reload can finish.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// nextID returns a new internal id. Callers hold s.mu for writing.
func (s *Store) nextID() int64 {
	s.lastID++
	return s.lastID
}

// now returns the current time as PostgreSQL would store it (UTC, whole
// microseconds), never earlier than a time it returned before. Because ids
// and times are both taken under s.mu, ascending id order is also ascending
// (CreatedAt, ID) order, which is what keeps the listings simple. Callers hold
// s.mu for writing.
func (s *Store) now() time.Time {
	t := normTime(time.Now())
	if t.Before(s.lastTime) {
		t = s.lastTime
	}
	s.lastTime = t
	return t
}

// normTime returns t as PostgreSQL would give it back: UTC with microsecond
// precision and no monotonic clock reading.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

// requireUser reports ErrNotFound for a user id that does not exist, as the
// foreign keys of store/postgres do. Callers hold s.mu.
func (s *Store) requireUser(op string, userID int64) error {
	if _, ok := s.users[userID]; !ok {
		return fmt.Errorf("%s: user: %w", op, store.ErrNotFound)
	}
	return nil
}

// Interface guard.
var _ store.Store = (*Store)(nil)
