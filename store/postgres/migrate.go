package postgres

import (
	"context"
	"fmt"
	"path"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/migrations"
)

// migrate applies the pending migrations. goose's session locker holds a
// PostgreSQL advisory lock on its own connection while it works, so when
// several replicas start at once one applies the migrations and the others
// wait, then find nothing left to do.
//
// goose needs a database/sql handle: it gets one of its own over pgx's
// stdlib adapter, closed when done, so that no connection of the pool is ever
// left holding the lock.
func (s *Store) migrate(ctx context.Context, connCfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*connCfg.Copy())
	defer db.Close()

	// Retry the lock every second (goose's default is every five) for up to
	// five minutes: replicas starting together should not wait longer than
	// the migrations take.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300), lock.WithUnlockTimeout(1, 60))
	if err != nil {
		return fmt.Errorf("creating migration lock: %w", err)
	}
	provider, err := goose.NewProvider(database.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return s.mapErr(ctx, "applying migrations", err)
	}
	for _, r := range results {
		s.logger.Info("applied database migration",
			zap.String("migration", path.Base(r.Source.Path)),
			zap.Duration("duration", r.Duration))
	}
	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return s.mapErr(ctx, "reading schema version", err)
	}
	s.logger.Debug("database schema is up to date", zap.Int64("version", version))
	return nil
}
