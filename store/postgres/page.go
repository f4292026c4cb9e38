package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

// keyset returns the comparison that selects records after the cursor and
// the sort direction for opts's order. Both are constants of this file, never
// input, so they are safe to splice into SQL.
func keyset(opts store.ListOptions) (after, dir string) {
	if opts.Order == store.OrderAsc {
		return ">", "ASC"
	}
	return "<", "DESC"
}

// limitArg is the LIMIT to query: one more than the page, to learn whether
// more follow, or NULL (no limit) when opts.Limit is zero or less.
func limitArg(opts store.ListOptions) any {
	if opts.Limit <= 0 {
		return nil
	}
	return opts.Limit + 1
}

// collectPage reads the rows of a listing queried with limitArg into one
// page, stopping at opts.Limit records or once they weigh opts.MaxBytes
// (see store.ListOptions), whichever comes first. Rows past the page are not
// decoded, so a page's memory is bounded however large the records are.
func collectPage[T any](rows pgx.Rows, opts store.ListOptions, scan func(pgx.Row) (T, error), size func(*T) int) (store.Page[T], error) {
	defer rows.Close()
	items := []T{}
	total := 0
	for rows.Next() {
		if (opts.Limit > 0 && len(items) >= opts.Limit) || (opts.MaxBytes > 0 && total >= opts.MaxBytes) {
			rows.Close()
			return store.Page[T]{Items: items, HasMore: true}, rows.Err()
		}
		it, err := scan(rows)
		if err != nil {
			return store.Page[T]{}, err
		}
		items = append(items, it)
		total += size(&items[len(items)-1])
	}
	return store.Page[T]{Items: items}, rows.Err()
}
