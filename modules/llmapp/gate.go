package llmapp

import (
	"sync"
	"sync/atomic"
	"time"
)

// releaseDelay is how long after its config was unloaded an app keeps its
// resources at least. A request the old server read just before its
// shutdown began can reach the old handlers a moment after Caddy cleaned
// them up (on a loaded machine, milliseconds); it must still find them open.
const releaseDelay = 2 * time.Second

// inflightGate delays the release of an app's shared resources until the last
// request that uses them has finished.
//
// Caddy cleans up the modules of an old config right after the new config
// starts, while the old servers are still draining their requests (long SSE
// streams among them). Resources whose settings did not change live on in
// their usage pools, but one whose settings changed would otherwise be closed
// under a stream that still uses it.
type inflightGate struct {
	n        atomic.Int64
	closable atomic.Bool // closed, and releaseDelay has passed
	once     sync.Once
	onIdle   func()
}

// enter records that a request started using the app.
func (g *inflightGate) enter() { g.n.Add(1) }

// leave records that a request is done with the app.
func (g *inflightGate) leave() {
	if g.n.Add(-1) == 0 && g.closable.Load() {
		g.once.Do(g.onIdle)
	}
}

// close runs onIdle once releaseDelay has passed and no request uses the
// app any more.
func (g *inflightGate) close() {
	time.AfterFunc(releaseDelay, func() {
		// Publish closable before reading the count; leave does the
		// reverse, so one of the two always sees the other.
		g.closable.Store(true)
		if g.n.Load() == 0 {
			g.once.Do(g.onIdle)
		}
	})
}
