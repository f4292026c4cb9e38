// Package migrations holds the gateway's PostgreSQL schema as goose SQL
// migrations, embedded into the binary. store/postgres applies them at
// start-up under a PostgreSQL advisory lock, so replicas that start together
// apply each migration exactly once.
//
// Conventions every table follows:
//   - internal ids are bigint identities; clients only ever see the random
//     public_id ("usr_…", "proj_…", …);
//   - every row a user owns carries user_id, and listings are served by an
//     index on (user_id, created_at, id) for keyset pagination;
//   - timestamps are timestamptz.
package migrations

import "embed"

// FS holds the SQL migration files, named NNNNN_what.sql in goose's format.
//
//go:embed *.sql
var FS embed.FS
