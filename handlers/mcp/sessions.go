package mcp

import (
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// sweepInterval is how often the session registry forgets sessions that
// ended by themselves (DELETE, idle timeout), so that principals who are
// gone leave nothing behind.
const sweepInterval = time.Minute

// sessionRegistry bounds the stateful sessions of each principal. Every
// session holds goroutines and buffers in the SDK until it ends, so a
// principal that opens sessions without ending them would otherwise pin an
// unbounded amount of memory. When a principal opens one more than the
// bound, its oldest session is closed: a client that lost track of its
// sessions keeps working, and the evicted session's next request gets 404,
// on which MCP clients start a new session.
type sessionRegistry struct {
	max    int
	server *sdk.Server

	mu        sync.Mutex
	byOwner   map[int64][]string // session ids, oldest first
	lastSweep time.Time
}

func newSessionRegistry(server *sdk.Server, max int) *sessionRegistry {
	return &sessionRegistry{max: max, server: server, byOwner: make(map[int64][]string), lastSweep: time.Now()}
}

// opened records a new session of owner and closes the owner's oldest
// sessions beyond the bound.
func (r *sessionRegistry) opened(owner int64, id string) {
	r.mu.Lock()
	ids := append(r.byOwner[owner], id)
	var evict []string
	if len(ids) > r.max {
		ids = r.keepLive(ids, r.liveIDs())
		if n := len(ids) - r.max; n > 0 {
			evict = append(evict, ids[:n]...)
			ids = append([]string(nil), ids[n:]...)
		}
	}
	r.byOwner[owner] = ids
	if time.Since(r.lastSweep) >= sweepInterval {
		r.sweep()
	}
	r.mu.Unlock()
	r.close(evict)
}

// liveIDs returns the ids of the sessions the server still holds.
func (r *sessionRegistry) liveIDs() map[string]bool {
	live := make(map[string]bool)
	for ss := range r.server.Sessions() {
		live[ss.ID()] = true
	}
	return live
}

// keepLive returns the ids that are still live, in their order.
func (r *sessionRegistry) keepLive(ids []string, live map[string]bool) []string {
	kept := ids[:0]
	for _, id := range ids {
		if live[id] {
			kept = append(kept, id)
		}
	}
	return kept
}

// sweep forgets ended sessions of every owner; r.mu is held.
func (r *sessionRegistry) sweep() {
	r.lastSweep = time.Now()
	live := r.liveIDs()
	for owner, ids := range r.byOwner {
		if ids = r.keepLive(ids, live); len(ids) == 0 {
			delete(r.byOwner, owner)
		} else {
			r.byOwner[owner] = ids
		}
	}
}

// close ends the sessions with the ids.
func (r *sessionRegistry) close(ids []string) {
	if len(ids) == 0 {
		return
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	for ss := range r.server.Sessions() {
		if set[ss.ID()] {
			_ = ss.Close()
		}
	}
}
