package llmapp

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// readiness is the app's part of the readiness checks: Redis is pinged on a
// connection of its own, so that a flood of rate limit decisions cannot make
// Redis look down (nor a flood of readiness checks slow the decisions), and
// only changes of a part's state are logged.
type readiness struct {
	redis       redis.UniversalClient // the health client; nil without Redis
	redisNeeded atomic.Bool           // a fail_closed rate limit needs Redis to serve
	mu          sync.Mutex
	down        map[string]bool // each part's last state
}

// Ready checks the store and Redis and reports each by name, nil when up.
// A part going down is logged once, as a warning, and its recovery once;
// the readiness answer itself names only the part.
func (a *App) Ready(ctx context.Context) map[string]error {
	// The parts are checked side by side, so that a slow one does not
	// spend the other's time.
	var redisErr error
	var wg sync.WaitGroup
	if a.readiness.redis != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			redisErr = pingRedis(ctx, a.readiness.redis)
		}()
	}
	var replicaErr error
	rp, hasReplica := a.store.(replicaPinger)
	hasReplica = hasReplica && rp.HasReplica()
	if hasReplica {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicaErr = rp.PingReplica(ctx)
		}()
	}
	checks := map[string]error{"database": a.store.Ping(ctx)}
	wg.Wait()
	if hasReplica {
		checks["database_replica"] = replicaErr
	}
	if a.readiness.redis != nil {
		checks["redis"] = redisErr
	}
	a.readiness.mu.Lock()
	defer a.readiness.mu.Unlock()
	if a.readiness.down == nil {
		a.readiness.down = make(map[string]bool, len(checks))
	}
	for name, err := range checks {
		down := err != nil
		if was, seen := a.readiness.down[name]; seen && was == down || !seen && !down {
			a.readiness.down[name] = down
			continue
		}
		a.readiness.down[name] = down
		if down {
			a.logger.Warn("readiness: part down", zap.String("part", name), zap.Bool("degraded_only", a.Degradable(name)), zap.Error(err))
		} else {
			a.logger.Info("readiness: part up again", zap.String("part", name))
		}
	}
	return checks
}

// Degradable reports whether the API still serves while the named part is
// down. Redis is: under fail_open the rate limits are kept in process
// meanwhile (exact per node), and taking every replica out of rotation for
// an outage they all share would turn it into a full outage. Unless a
// fail_closed limit refuses requests without Redis: then it is required.
func (a *App) Degradable(part string) bool {
	// A read replica that is down has its reads served by the primary.
	return part == "redis" && !a.readiness.redisNeeded.Load() || part == "database_replica"
}

// replicaPinger is a store with an optional read replica (the PostgreSQL
// store).
type replicaPinger interface {
	HasReplica() bool
	PingReplica(ctx context.Context) error
}

// RequireRedis marks Redis as required for readiness; a rate limit that
// fails closed calls it.
func (a *App) RequireRedis() { a.readiness.redisNeeded.Store(true) }
