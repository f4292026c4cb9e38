// Package postgres is the PostgreSQL implementation of store.Store, on pgx.
//
// Open connects a pgxpool and applies the embedded migrations (package
// migrations) with goose under a PostgreSQL advisory lock, so that replicas
// starting together apply each migration exactly once. Every query runs with
// the configured timeout, and errors are mapped onto the store package's
// sentinels: no row is store.ErrNotFound, a unique violation
// store.ErrConflict, and a database that cannot be reached or does not answer
// in time store.ErrUnavailable. Error texts name the operation, never SQL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/store"
)

// Defaults for the zero values of Config.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultQueryTimeout   = 5 * time.Second
)

// Config configures Open.
type Config struct {
	// URL is the PostgreSQL connection string (URL or key=value form).
	URL string
	// MaxConns and MinConns bound the pool; zero keeps pgx's defaults (or
	// the pool_max_conns / pool_min_conns of the URL).
	MaxConns, MinConns int32
	// ConnectTimeout bounds establishing one connection. Zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// QueryTimeout bounds every store method (all its queries together).
	// Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Logger receives start-up messages (migrations applied). Nil discards
	// them.
	Logger *zap.Logger
	// OnUnavailable, when set, is called for every operation that failed
	// with store.ErrUnavailable, for example to count it in a metric.
	OnUnavailable func()
	// ReadURL, when set, is a streaming replica of URL that serves the
	// user-scoped list and get reads (see replica). Migrations and writes
	// never go there.
	ReadURL string
	// ReadYourWritesWindow is how long a user's reads stay on the primary
	// after that user's write. Zero means DefaultReadYourWritesWindow; a
	// negative window sends every eligible read to the replica.
	ReadYourWritesWindow time.Duration
	// Tracer, when set, sees every query of the primary's pool (pgx's
	// tracing hooks), for example to count round trips.
	Tracer pgx.QueryTracer
}

// Store is a store.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool          *pgxpool.Pool
	queryTimeout  time.Duration
	logger        *zap.Logger
	closed        atomic.Bool
	onUnavailable func()
	replica       *replica // nil without a read replica

	// migrated is set once the schema is up to date; until then every
	// operation fails with store.ErrUnavailable (errNotMigrated).
	migrated atomic.Bool
	// stopMigrating ends the background migration loop; migrating is done
	// when it has returned.
	stopMigrating context.CancelFunc
	migrating     sync.WaitGroup
}

// errNotMigrated fails every operation while the schema is not migrated
// yet: the database was unreachable at start, and its tables may be missing
// or old.
var errNotMigrated = fmt.Errorf("database schema not migrated yet: %w", store.ErrUnavailable)

// Open returns the store on the database and applies pending migrations.
//
// A database that cannot be reached does not fail Open: in containers the
// gateway and PostgreSQL start in any order. The store then answers every
// operation (Ping included) with store.ErrUnavailable while it connects and
// migrates in the background, retrying with backoff, and serves as soon as
// the schema is up to date. Other failures (a malformed URL, a migration
// that fails on a reachable database) are errors.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The parse error quotes the URL, password included when redaction
		// fails: keep it out of logs.
		return nil, errors.New("parsing database URL: invalid connection string")
	}
	if cfg.MaxConns > 0 {
		poolCfg.MaxConns = cfg.MaxConns
	}
	if cfg.MinConns > 0 {
		poolCfg.MinConns = cfg.MinConns
	}
	if poolCfg.MinConns > poolCfg.MaxConns {
		poolCfg.MinConns = poolCfg.MaxConns
	}
	poolCfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if cfg.Tracer != nil {
		poolCfg.ConnConfig.Tracer = cfg.Tracer
	}
	var s *Store
	poolCfg.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) {
		if !s.migrated.Load() {
			return true, errNotMigrated
		}
		return true, nil
	}
	poolCfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		// Hand out timestamps in UTC, as the memory store does, whatever
		// the process's local time zone.
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}

	s = &Store{queryTimeout: cfg.QueryTimeout, logger: cfg.Logger, onUnavailable: cfg.OnUnavailable}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("creating database pool: %w", err)
	}
	s.pool = pool

	err = s.reachable(ctx, poolCfg.ConnConfig, cfg.ConnectTimeout)
	if err == nil {
		err = s.migrate(ctx, poolCfg.ConnConfig)
	}
	switch {
	case err == nil:
		s.migrated.Store(true)
		s.stopMigrating = func() {}
	case errors.Is(err, store.ErrUnavailable):
		s.logger.Warn("database unreachable; starting without it and retrying in the background: its routes answer 503 until it connects", zap.Error(err))
		bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopMigrating = cancel
		s.migrating.Add(1)
		go s.migrateWhenReachable(bg, poolCfg.ConnConfig, cfg.ConnectTimeout)
	default:
		pool.Close()
		return nil, err
	}
	if cfg.ReadURL != "" {
		if err := s.openReplica(ctx, cfg, poolCfg); err != nil {
			s.Close() // stops the background migration too
			return nil, err
		}
	}
	return s, nil
}

// Backoff of the background connection attempts.
const (
	retryMin = 250 * time.Millisecond
	retryMax = 10 * time.Second
)

// migrateWhenReachable retries connecting and migrating until it succeeds
// or the store is closed. Replicas starting together all retry; goose's
// advisory lock lets one of them migrate.
func (s *Store) migrateWhenReachable(ctx context.Context, connCfg *pgx.ConnConfig, connectTimeout time.Duration) {
	defer s.migrating.Done()
	wait := retryMin
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := s.reachable(ctx, connCfg, connectTimeout)
		if err == nil {
			err = s.migrate(ctx, connCfg)
		}
		if err == nil {
			s.migrated.Store(true)
			s.logger.Info("database reachable and migrated; serving from PostgreSQL", zap.Int("attempts", attempt))
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt%10 == 0 { // the first failure was logged by Open
			s.logger.Warn("database still unreachable; retrying", zap.Int("attempts", attempt), zap.Error(err))
		}
		wait = min(wait*2, retryMax)
	}
}

// reachable checks that the database answers, on a connection of its own
// (the pool hands out none before the schema is migrated).
func (s *Store) reachable(ctx context.Context, connCfg *pgx.ConnConfig, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, connCfg.Copy())
	if err != nil {
		return s.mapErr(ctx, "connecting to database", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return s.mapErr(ctx, "connecting to database", conn.Ping(cctx))
}

// Kind implements store.Store.
func (s *Store) Kind() string { return "postgres" }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	return s.mapErr(ctx, "pinging database", s.pool.Ping(qctx))
}

// Close implements store.Store. It waits for connections in use to be
// returned to the pool.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.stopMigrating()
		s.migrating.Wait()
		if s.replica != nil {
			s.replica.close()
		}
		s.pool.Close()
	}
	return nil
}

// Pool returns the underlying pool, for health checks and metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Stat returns the pool's statistics (connections in use, idle, waits).
func (s *Store) Stat() *pgxpool.Stat { return s.pool.Stat() }

// withTimeout bounds one store method by the query timeout.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.queryTimeout)
}

// Interface guard.
var _ store.Store = (*Store)(nil)
