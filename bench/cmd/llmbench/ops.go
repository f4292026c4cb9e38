package main

import (
	"context"
	"time"
)

// pgStatsDelay is how long to wait before reading pg_stat_database: a
// backend reports its counts at most once a second, and soon after it goes
// idle.
const pgStatsDelay = 1200 * time.Millisecond

// opsMeter counts the Redis round trips and PostgreSQL commits of one
// measurement: what each request costs the shared services, for the
// capacity model. A rate limit decision is one Redis script (EVALSHA,
// running TIME, GET and SET inside Redis), so scripts count round trips.
type opsMeter struct {
	e                  *env
	pg                 bool
	redis0, commits0   int64
	rows0              int64
	redisOK, commitsOK bool
}

// startOps reads the counters before a measurement of s. PostgreSQL is
// read only for scenarios that persist (after a pause that lets the
// warm-up's counts land first).
func (e *env) startOps(ctx context.Context, s *scenario) *opsMeter {
	m := &opsMeter{e: e, pg: s.conversations && e.db != nil}
	if e.redisURL != "" {
		var err error
		var n int
		n, err = redisScriptCalls(e.redisURL)
		m.redis0 = int64(n)
		m.redisOK = err == nil
	}
	if m.pg {
		time.Sleep(pgStatsDelay)
		var err error
		m.commits0, m.rows0, err = e.db.commits(ctx)
		m.commitsOK = err == nil
	}
	return m
}

// stop returns the Redis scripts and the PostgreSQL commits since start,
// -1 for what is unknown. The rows written are not returned: commits are
// the figure that bounds a PostgreSQL server (each one waits for its WAL
// flush).
func (m *opsMeter) stop(ctx context.Context) (redis, commits int64) {
	redis, commits = -1, -1
	if m.redisOK {
		if n, err := redisScriptCalls(m.e.redisURL); err == nil {
			redis = int64(n) - m.redis0
		}
	}
	if m.commitsOK {
		time.Sleep(pgStatsDelay)
		if n, _, err := m.e.db.commits(ctx); err == nil {
			commits = n - m.commits0
		}
	}
	return redis, commits
}
