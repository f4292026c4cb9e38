package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/caddy-llm/gateway/migrations"
)

// NewMigratedPostgresDatabase is NewPostgresDatabase with the schema already
// in place: the database is a copy (CREATE DATABASE ... TEMPLATE) of a
// template that holds every migration. Copying takes a fraction of the time
// that applying the migrations does, which is most of what a PostgreSQL test
// used to spend. The store's Open still runs its migrations on the copy and
// finds nothing left to do; tests of migrating an empty database use
// NewPostgresDatabase.
//
// The template is named after a hash of the migrations' content, so a
// changed migration gets a template of its own, and it is built once per
// PostgreSQL server, not once per test process. Whoever builds a template
// drops the templates of other migration sets (older versions, other
// branches); a test process that still needs one of those rebuilds it. A
// PostgreSQL advisory lock keeps this safe across concurrent test processes:
// copies hold it shared, building and dropping templates hold it exclusively.
func NewMigratedPostgresDatabase(t testing.TB) string {
	t.Helper()
	return newPostgresDatabase(t, true)
}

// templateLockKey is the advisory lock guarding the templates; its value is
// "llmgwtpl" in ASCII, to stay clear of other users' locks (goose's own lock
// uses a different key).
const templateLockKey int64 = 0x6c6c6d6777747031

// templatePrefix starts the names of all template databases.
const templatePrefix = "llmgw_tmpl_"

var templateName = sync.OnceValues(func() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing the migrations: %w", err)
	}
	return templatePrefix + hex.EncodeToString(h.Sum(nil))[:16], nil
})

// createFromTemplate creates database name as a copy of the migrations'
// template, building the template first if the server has none.
func createFromTemplate(ctx context.Context, conn *pgx.Conn, admin, name string) error {
	tmpl, err := templateName()
	if err != nil {
		return err
	}
	for {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", templateLockKey); err != nil {
			return fmt.Errorf("taking the template lock: %w", err)
		}
		var exists bool
		err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists)
		if err == nil && exists {
			_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl)
			if err != nil {
				err = fmt.Errorf("copying template %s: %w", tmpl, err)
			}
		}
		if _, uerr := conn.Exec(ctx, "SELECT pg_advisory_unlock_shared($1)", templateLockKey); uerr != nil && err == nil {
			err = fmt.Errorf("releasing the template lock: %w", uerr)
		}
		if err != nil || exists {
			return err
		}
		if err := buildTemplate(ctx, conn, admin, tmpl); err != nil {
			return err
		}
	}
}

// buildTemplate builds template tmpl under the exclusive lock, unless
// another process did meanwhile. It migrates a database of another name and
// renames it only when complete, so that a process killed while building
// leaves no half-migrated template behind.
func buildTemplate(ctx context.Context, conn *pgx.Conn, admin, tmpl string) (err error) {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("taking the template lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockKey); uerr != nil && err == nil {
			err = fmt.Errorf("releasing the template lock: %w", uerr)
		}
	}()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return fmt.Errorf("looking for template %s: %w", tmpl, err)
	}
	if exists {
		return nil
	}
	// Nobody copies while the lock is held exclusively: drop the templates
	// of other migration sets and any half-built one.
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", templatePrefix)
	if err != nil {
		return fmt.Errorf("listing old templates: %w", err)
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("listing old templates: %w", err)
	}
	for _, db := range old {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping old template %s: %w", db, err)
		}
	}

	build := tmpl + "_build"
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+build); err != nil {
		return fmt.Errorf("creating template %s: %w", tmpl, err)
	}
	if err := migrate(ctx, databaseURL(admin, build)); err != nil {
		return fmt.Errorf("migrating template %s: %w", tmpl, err)
	}
	// A template must have no connections while it is renamed or copied;
	// wait for the migration's sessions to end, and refuse new ones.
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1", build); err != nil {
		return fmt.Errorf("closing sessions of template %s: %w", tmpl, err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+build+" RENAME TO "+tmpl); err != nil {
		return fmt.Errorf("renaming template %s: %w", tmpl, err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+tmpl+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("closing template %s to connections: %w", tmpl, err)
	}
	return nil
}

// migrate applies all migrations to the database at dsn, as the store's
// Open does (without its lock: the template lock is held).
func migrate(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parsing database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(database.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	return nil
}

// databaseURL is admin with its database replaced by name; admin parses
// (newPostgresDatabase checked).
func databaseURL(admin, name string) string {
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// templateTimeout bounds waiting for the template lock and building the
// template, which another process may be doing.
const templateTimeout = 2 * time.Minute
