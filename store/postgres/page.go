package postgres

import "github.com/caddy-llm/gateway/store"

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

// toPage cuts the extra record limitArg asked for.
func toPage[T any](items []T, opts store.ListOptions) store.Page[T] {
	if items == nil {
		items = []T{}
	}
	if opts.Limit > 0 && len(items) > opts.Limit {
		return store.Page[T]{Items: items[:opts.Limit], HasMore: true}
	}
	return store.Page[T]{Items: items}
}
