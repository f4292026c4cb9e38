package postgres_test

import (
	"context"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/caddy-llm/gateway/migrations"
	"github.com/caddy-llm/gateway/store/postgres"
	"github.com/caddy-llm/gateway/store/storetest"
)

// TestOpenRace starts several replicas on one empty database at once: all
// must start, and each migration must have been applied exactly once.
func TestOpenRace(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	const replicas = 4
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			s, err := postgres.Open(ctx, postgres.Config{URL: url})
			if err == nil {
				err = s.Ping(ctx)
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}

	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v (%d files)", err, len(files))
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
SELECT version_id, count(*) FROM goose_db_version
WHERE version_id > 0 AND is_applied
GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatalf("reading goose versions: %v", err)
	}
	type applied struct{ Version, Count int64 }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
	if err != nil {
		t.Fatalf("reading goose versions: %v", err)
	}
	if len(got) != len(files) {
		t.Errorf("%d migrations recorded, want %d (%v)", len(got), len(files), files)
	}
	for i, a := range got {
		if a.Version != int64(i+1) || a.Count != 1 {
			t.Errorf("migration %d recorded %d times (row %d), want once", a.Version, a.Count, i)
		}
	}
}

// TestMigrationsDownAndUp checks that every migration can be rolled back and
// applied again, so a bad release can be undone.
func TestMigrationsDownAndUp(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(database.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	ctx := t.Context()
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"up", func() error { _, err := p.Up(ctx); return err }},
		{"down to 0", func() error { _, err := p.DownTo(ctx, 0); return err }},
		{"up again", func() error { _, err := p.Up(ctx); return err }},
	} {
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	var tables int
	if err := db.QueryRowContext(ctx, `
SELECT count(*) FROM information_schema.tables
WHERE table_schema = 'public' AND table_name <> 'goose_db_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 12 { // 00007 adds indexes only; 00008 usage_records, usage_hourly, usage_limits
		t.Errorf("%d tables after down and up, want 12", tables)
	}
}
