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
}

// Store is a store.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool          *pgxpool.Pool
	queryTimeout  time.Duration
	logger        *zap.Logger
	closed        atomic.Bool
	onUnavailable func()
	replica       *replica // nil without a read replica
}

// Open connects to the database, checks that it answers, applies pending
// migrations and returns the store. A database that cannot be reached is an
// error matching store.ErrUnavailable.
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

	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("creating database pool: %w", err)
	}
	s := &Store{pool: pool, queryTimeout: cfg.QueryTimeout, logger: cfg.Logger, onUnavailable: cfg.OnUnavailable}

	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	err = pool.Ping(pingCtx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, s.mapErr(ctx, "connecting to database", err)
	}
	if err := s.migrate(ctx, poolCfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	if cfg.ReadURL != "" {
		if err := s.openReplica(ctx, cfg, poolCfg); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
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
