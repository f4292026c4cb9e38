package llmapp

import (
	"sync"
	"sync/atomic"
)

// inflightGate delays the release of an app's shared resources until the last
// request that uses them has finished.
//
// Caddy cleans up the modules of an old config right after the new config
// starts, while the old servers are still draining their requests (long SSE
// streams among them). Resources whose settings did not change live on in
// their usage pools, but one whose settings changed would otherwise be closed
// under a stream that still uses it.
type inflightGate struct {
	n      atomic.Int64
	closed atomic.Bool
	once   sync.Once
	onIdle func()
}

// enter records that a request started using the app.
func (g *inflightGate) enter() { g.n.Add(1) }

// leave records that a request is done with the app.
func (g *inflightGate) leave() {
	if g.n.Add(-1) == 0 && g.closed.Load() {
		g.once.Do(g.onIdle)
	}
}

// close runs onIdle once no request uses the app any more (at once when none
// does now).
func (g *inflightGate) close() {
	g.closed.Store(true)
	if g.n.Load() == 0 {
		g.once.Do(g.onIdle)
	}
}
