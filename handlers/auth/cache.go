package auth

import (
	"sync"
	"time"
)

// ttlCache is a bounded map whose entries expire. It sits on the hot path of
// every authenticated request, so a hit takes only a read lock and allocates
// nothing. When it is full, a put first drops expired entries and then, if
// that was not enough, an arbitrary eighth of the rest: a cache of verified
// credentials only needs to stay bounded, not to keep the best entries.
type ttlCache[K comparable, V any] struct {
	limit int

	mu sync.RWMutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v     V
	until time.Time
}

func newTTLCache[K comparable, V any](limit int) *ttlCache[K, V] {
	return &ttlCache[K, V]{limit: limit, m: make(map[K]ttlEntry[V])}
}

// get returns the value of k if it is present and not expired at now.
func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under k until the given time.
func (c *ttlCache[K, V]) put(k K, v V, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.limit {
		c.shrink(now)
	}
	c.m[k] = ttlEntry[V]{v: v, until: until}
}

// shrink makes room for at least one entry. Callers hold c.mu.
func (c *ttlCache[K, V]) shrink(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	excess := len(c.m) - c.limit + c.limit/8 + 1
	for k := range c.m {
		if excess <= 0 {
			break
		}
		delete(c.m, k)
		excess--
	}
}

func (c *ttlCache[K, V]) delete(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// deleteFunc removes every entry for which drop reports true.
func (c *ttlCache[K, V]) deleteFunc(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if drop(k, e.v) {
			delete(c.m, k)
		}
	}
}

func (c *ttlCache[K, V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
