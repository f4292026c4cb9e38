package memory

import (
	"sort"

	"github.com/caddy-llm/gateway/store"
)

// page selects one page of recs, which are in ascending key order, as
// opts asks. after is the key of the cursor record when hasAfter is set: a
// record of the listing, or the place of one that was deleted, after which
// the page starts all the same.
// A Limit of zero or less returns every remaining record. The page also ends
// once its records weigh opts.MaxBytes (size). The copy function runs while
// the caller still holds s.mu.
func page[T any, R any](recs []T, key func(T) int64, opts store.ListOptions, after int64, hasAfter bool, copyRec func(T) R, size func(*R) int) (store.Page[R], error) {
	desc := opts.Order != store.OrderAsc
	// start is the index of the first record of the page; step walks the
	// listing's order.
	start, step := 0, 1
	if desc {
		start, step = len(recs)-1, -1
	}
	if hasAfter {
		i := sort.Search(len(recs), func(i int) bool { return key(recs[i]) >= after })
		switch {
		case i < len(recs) && key(recs[i]) == after:
			start = i + step
		case desc:
			start = i - 1 // the last record before the deleted one
		default:
			start = i // the first record after the deleted one
		}
	}
	var out []R
	total := 0
	i := start
	for ; i >= 0 && i < len(recs); i += step {
		if (opts.Limit > 0 && len(out) == opts.Limit) || (opts.MaxBytes > 0 && total >= opts.MaxBytes) {
			break
		}
		out = append(out, copyRec(recs[i]))
		total += size(&out[len(out)-1])
	}
	if out == nil {
		out = []R{}
	}
	return store.Page[R]{Items: out, HasMore: i >= 0 && i < len(recs)}, nil
}
