package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const (
	// localShards spreads the keys over this many locks, so that requests
	// of different clients rarely wait for each other.
	localShards = 64
	// localSweepEvery is how often a shard drops the buckets that are full
	// again (a full bucket is the same as no bucket).
	localSweepEvery = time.Minute
)

// LocalLimiter keeps the limits in process, for a gateway without Redis: the
// same GCRA as RedisLimiter, with the same results, exact for one node only.
// It starts no goroutine: each shard drops its idle buckets when it is next
// used after localSweepEvery, so it needs no Close.
type LocalLimiter struct {
	seed   maphash.Seed
	epoch  time.Time
	now    func() time.Time
	shards [localShards]localShard
}

type localShard struct {
	mu sync.Mutex
	// tat holds each bucket's theoretical arrival time, as time since the
	// limiter's epoch: the bucket is full again at that time.
	tat       map[string]time.Duration
	nextSweep time.Duration
	_         [40]byte // keeps shards on separate cache lines
}

// NewLocal returns an in-process limiter.
func NewLocal() *LocalLimiter { return newLocal(time.Now) }

func newLocal(now func() time.Time) *LocalLimiter {
	l := &LocalLimiter{seed: maphash.MakeSeed(), epoch: now(), now: now}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]time.Duration)
		l.shards[i].nextSweep = localSweepEvery
	}
	return l
}

// Allow implements Limiter. It never fails for a valid limit.
func (l *LocalLimiter) Allow(_ context.Context, key string, lim Limit) (Result, error) {
	if !lim.valid() {
		return Result{}, lim.Validate()
	}
	return l.decide(key, lim, true), nil
}

// peek reports what Allow would decide, without taking from the bucket.
func (l *LocalLimiter) peek(key string, lim Limit) Result {
	return l.decide(key, lim, false)
}

// decide makes one decision on a valid limit; take says whether an allowed
// request is taken from the bucket.
func (l *LocalLimiter) decide(key string, lim Limit, take bool) Result {
	burst := lim.Capacity()
	emission := lim.emissionInterval()
	wall := l.now()
	now := wall.Sub(l.epoch) // monotonic, when now is time.Now

	shard := &l.shards[maphash.String(l.seed, key)%localShards]
	shard.mu.Lock()
	tat, ok := shard.tat[key]
	if !ok || tat < now {
		tat = now
	}
	next := tat + emission
	// diff is how far the request is ahead of its refusal: negative when
	// the bucket holds less than one request.
	diff := now - (next - time.Duration(burst)*emission)
	if diff < 0 {
		shard.mu.Unlock()
		return Result{
			Limit:      burst,
			Period:     lim.Period,
			ResetAt:    wall.Add(tat - now),
			RetryAfter: -diff,
		}
	}
	if take {
		shard.tat[key] = next
		if now >= shard.nextSweep {
			shard.sweep(now)
		}
	}
	shard.mu.Unlock()
	return Result{
		Allowed:   true,
		Limit:     burst,
		Remaining: int(diff / emission),
		Period:    lim.Period,
		ResetAt:   wall.Add(next - now),
	}
}

// learn records a decision made elsewhere (by Redis, counting every node):
// the bucket of key is full again only after resetAfter, as Redis said,
// counted from when its answer arrived, so that the copy never runs
// ahead of Redis. After a refusal, until its retry time this node's copy
// refuses the key too, without asking: a client over its limit on other
// nodes is not let in to authenticate, read a body or query the store here
// on each request before Redis refuses it again. After an admission, a
// refusal the copy makes later tells a Retry-After that Redis honours.
func (l *LocalLimiter) learn(key string, resetAfter time.Duration) {
	if resetAfter <= 0 {
		return
	}
	now := l.now().Sub(l.epoch)
	shard := &l.shards[maphash.String(l.seed, key)%localShards]
	shard.mu.Lock()
	if tat := now + resetAfter; tat > shard.tat[key] {
		shard.tat[key] = tat
	}
	shard.mu.Unlock()
}

// refund gives back one request taken from key's bucket by a decision that
// did not stand (see RedisLimiter.Allow, which takes from this node's copy
// before it asks Redis).
func (l *LocalLimiter) refund(key string, lim Limit) {
	emission := lim.emissionInterval()
	now := l.now().Sub(l.epoch)
	shard := &l.shards[maphash.String(l.seed, key)%localShards]
	shard.mu.Lock()
	if tat, ok := shard.tat[key]; ok {
		if tat -= emission; tat <= now {
			delete(shard.tat, key)
		} else {
			shard.tat[key] = tat
		}
	}
	shard.mu.Unlock()
}

// sweep drops the buckets that are full again. The caller holds mu.
func (s *localShard) sweep(now time.Duration) {
	for key, tat := range s.tat {
		if tat <= now {
			delete(s.tat, key)
		}
	}
	s.nextSweep = now + localSweepEvery
}

// len returns the number of buckets held, for tests.
func (l *LocalLimiter) len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
