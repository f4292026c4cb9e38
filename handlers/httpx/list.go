package httpx

import (
	"net/url"
	"strconv"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/store"
)

// Page sizes of list endpoints.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxPageBytes bounds the stored text one page of a listing carries,
	// weighed as JSON (store.ListOptions.MaxBytes): a page of large
	// records ends early, with has_more set, however large limit is. A
	// single record larger than this still makes a page of its own.
	MaxPageBytes = 1 << 20
)

// ParseListOptions reads the pagination parameters of a list endpoint:
// limit (1–MaxLimit, default DefaultLimit), after (a public id; cursor is
// accepted as an alias, as Jan's clients send it) and order (asc | desc,
// default desc). A bad value is a 400 naming the parameter. Every page is
// also bounded to MaxPageBytes.
func ParseListOptions(q url.Values) (store.ListOptions, *apierr.Error) {
	opts := store.ListOptions{Limit: DefaultLimit, Order: store.OrderDesc, MaxBytes: MaxPageBytes}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return opts, apierr.Invalid("limit", "invalid_value",
				"limit must be an integer from 1 to "+strconv.Itoa(MaxLimit))
		}
		opts.Limit = n
	}
	switch v := q.Get("order"); v {
	case "", store.OrderDesc:
	case store.OrderAsc:
		opts.Order = store.OrderAsc
	default:
		return opts, apierr.Invalid("order", "invalid_value", "order must be 'asc' or 'desc'")
	}
	opts.After = q.Get("after")
	if opts.After == "" {
		opts.After = q.Get("cursor")
	}
	return opts, nil
}

// List is the list object of every list endpoint:
//
//	{"object": "list", "data": […], "first_id": …, "last_id": …, "has_more": …}
//
// first_id and last_id are null when data is empty. Endpoints that report
// more (total, next_cursor) embed it in a struct of their own.
type List[T any] struct {
	Object  string  `json:"object"`
	Data    []T     `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// NewList returns the list object for one page. firstID and lastID are the
// public ids of the page's first and last records ("" for an empty page).
// A nil data is written as an empty array.
func NewList[T any](data []T, firstID, lastID string, hasMore bool) List[T] {
	if data == nil {
		data = []T{}
	}
	l := List[T]{Object: "list", Data: data, HasMore: hasMore}
	if firstID != "" {
		l.FirstID = &firstID
	}
	if lastID != "" {
		l.LastID = &lastID
	}
	return l
}

// NewPage returns the list object for one page whose first and last public
// ids are those of data's first and last entries, read with id.
func NewPage[T any](data []T, id func(T) string, hasMore bool) List[T] {
	var first, last string
	if n := len(data); n > 0 {
		first, last = id(data[0]), id(data[n-1])
	}
	return NewList(data, first, last, hasMore)
}
