package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// DefaultReadYourWritesWindow is how long a user's reads stay on the primary
// after that user's last write, when Config.ReadYourWritesWindow is zero.
const DefaultReadYourWritesWindow = 5 * time.Second

// replicaCheckInterval is how often the read replica is pinged in the
// background; a replica that does not answer has the reads sent to the
// primary until it answers again.
const replicaCheckInterval = time.Second

// replica is the optional read pool on a streaming replica.
//
// Which reads it serves: the user-scoped list and get reads of
// conversations, items, projects and settings (GetConversation,
// ListConversations, GetItem, ListItems, GetProject, ListProjects,
// GetSettings). Everything else stays on the primary: writes and
// transactions, users, API keys and their revocations, refresh tokens and
// signing keys (a stale answer there would let a revoked credential in).
//
// Read your writes: a user's reads go to the primary for window after
// that user's last write through this process, so that a list right after a
// create shows it. Another gateway process does not know of the write: a
// user whose requests alternate between replicas can miss its own write on
// the other one for as long as the replica lags.
type replica struct {
	pool   *pgxpool.Pool
	window time.Duration
	logger *zap.Logger

	mu     sync.Mutex
	down   bool
	wrote  map[int64]time.Time // user id → last write through this process
	cancel context.CancelFunc
	done   chan struct{}
}

// openReplica connects the read pool with the primary's settings and starts
// its health checks. A replica that cannot be reached does not fail the
// start: reads go to the primary until it answers.
func (s *Store) openReplica(ctx context.Context, cfg Config, primary *pgxpool.Config) error {
	poolCfg, err := pgxpool.ParseConfig(cfg.ReadURL)
	if err != nil {
		return errors.New("parsing database read URL: invalid connection string")
	}
	poolCfg.MaxConns, poolCfg.MinConns = primary.MaxConns, primary.MinConns
	poolCfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	poolCfg.AfterConnect = primary.AfterConnect
	// Nothing is read before the primary's schema is migrated: the
	// replica's tables follow the primary's.
	poolCfg.PrepareConn = primary.PrepareConn
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return errors.New("creating database read pool: invalid configuration")
	}
	window := cfg.ReadYourWritesWindow
	if window == 0 {
		window = DefaultReadYourWritesWindow
	}
	r := &replica{pool: pool, window: window, logger: s.logger, wrote: map[int64]time.Time{}, done: make(chan struct{})}
	r.check(ctx)
	checkCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(checkCtx)
	s.replica = r
	return nil
}

// run pings the replica every replicaCheckInterval and forgets writes older
// than the window.
func (r *replica) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(replicaCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.check(ctx)
		r.mu.Lock()
		for id, at := range r.wrote {
			if time.Since(at) > r.window {
				delete(r.wrote, id)
			}
		}
		r.mu.Unlock()
	}
}

// check pings the replica and records whether it is up.
func (r *replica) check(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, replicaCheckInterval)
	err := r.pool.Ping(pctx)
	cancel()
	if ctx.Err() != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if down := err != nil; down != r.down {
		r.down = down
		if down {
			r.logger.Warn("database read replica unreachable; reads go to the primary", zap.Error(err))
		} else {
			r.logger.Info("database read replica reachable again; serving reads from it")
		}
	}
	return err
}

func (r *replica) close() {
	r.cancel()
	<-r.done
	r.pool.Close()
}

// reader returns the pool for a read of userID's rows: the replica, unless
// there is none, it is down, or the user wrote within the window.
func (s *Store) reader(userID int64) *pgxpool.Pool {
	r := s.replica
	if r == nil {
		return s.pool
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return s.pool
	}
	if at, ok := r.wrote[userID]; ok && time.Since(at) <= r.window {
		return s.pool
	}
	return r.pool
}

// wrote records a write of userID's rows, for reader. It is deferred by
// the write methods, so the window starts when the write is committed.
func (s *Store) wrote(userID int64) {
	if r := s.replica; r != nil {
		r.mu.Lock()
		r.wrote[userID] = time.Now()
		r.mu.Unlock()
	}
}

// HasReplica reports whether a read replica is configured.
func (s *Store) HasReplica() bool { return s.replica != nil }

// PingReplica checks the read replica now (nil without one). Reads follow
// the answer: to the primary while it fails.
func (s *Store) PingReplica(ctx context.Context) error {
	if s.replica == nil {
		return nil
	}
	if err := s.replica.check(ctx); err != nil {
		return s.mapErr(ctx, "pinging database read replica", err)
	}
	return nil
}

// ReplicaPool returns the read replica's pool, nil without one.
func (s *Store) ReplicaPool() *pgxpool.Pool {
	if s.replica == nil {
		return nil
	}
	return s.replica.pool
}
