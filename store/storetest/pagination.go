package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/caddy-llm/gateway/store"
)

// listing is one paginated listing of the store, reduced to public ids.
type listing struct {
	name string
	// open prepares an empty listing for a new user and returns how to add
	// a record to it and how to list it.
	open func(t *testing.T) (add func() string, list func(store.ListOptions) (store.Page[string], error))
}

func listings(s store.Store) []listing {
	return []listing{
		{"projects", func(t *testing.T) (func() string, func(store.ListOptions) (store.Page[string], error)) {
			u := newUser(t, s)
			n := 0
			add := func() string {
				n++
				p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: fmt.Sprintf("p%d", n)})
				must(t, "CreateProject", err)
				return p.PublicID
			}
			list := func(opts store.ListOptions) (store.Page[string], error) {
				p, err := s.ListProjects(t.Context(), u.ID, opts)
				return store.Page[string]{Items: publicIDsOfProjects(p.Items), HasMore: p.HasMore}, err
			}
			return add, list
		}},
		{"conversations", func(t *testing.T) (func() string, func(store.ListOptions) (store.Page[string], error)) {
			u := newUser(t, s)
			add := func() string {
				c, _ := newConversation(t, s, u)
				return c.PublicID
			}
			list := func(opts store.ListOptions) (store.Page[string], error) {
				p, _, err := s.ListConversations(t.Context(), u.ID, opts)
				return store.Page[string]{Items: publicIDsOfConversations(p.Items), HasMore: p.HasMore}, err
			}
			return add, list
		}},
		{"items", func(t *testing.T) (func() string, func(store.ListOptions) (store.Page[string], error)) {
			u := newUser(t, s)
			c, _ := newConversation(t, s, u)
			add := func() string {
				items, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("user", "x")})
				must(t, "AppendItems", err)
				return items[0].PublicID
			}
			list := func(opts store.ListOptions) (store.Page[string], error) {
				p, err := s.ListItems(t.Context(), u.ID, c.PublicID, opts)
				return store.Page[string]{Items: publicIDsOfItems(p.Items), HasMore: p.HasMore}, err
			}
			return add, list
		}},
	}
}

func testPagination(t *testing.T, s store.Store) {
	for _, l := range listings(s) {
		t.Run(l.name, func(t *testing.T) {
			for _, order := range []string{store.OrderAsc, store.OrderDesc, ""} {
				t.Run("order "+orderName(order)+" with inserts between pages", func(t *testing.T) {
					add, list := l.open(t)
					var created []string
					for range 7 {
						created = append(created, add())
					}
					var got, inserted []string
					opts := store.ListOptions{Limit: 3, Order: order}
					for pages := 0; ; pages++ {
						if pages > 10 {
							t.Fatalf("pagination does not end; got %d ids", len(got))
						}
						page, err := list(opts)
						must(t, "list", err)
						if len(page.Items) > 3 {
							t.Fatalf("page of %d records, limit 3", len(page.Items))
						}
						got = append(got, page.Items...)
						if !page.HasMore {
							break
						}
						if len(page.Items) == 0 {
							t.Fatal("empty page claims has_more")
						}
						opts.After = page.Items[len(page.Items)-1]
						if pages == 0 { // records created mid-way must not shift the pages
							inserted = append(inserted, add(), add())
						}
					}
					// Newer records come after the cursor only in ascending order.
					want := slices.Concat(created, inserted)
					if order != store.OrderAsc {
						want = reversed(created)
					}
					if !slices.Equal(got, want) {
						t.Errorf("paged through %v, want %v", got, want)
					}
				})
			}

			t.Run("page boundaries", func(t *testing.T) {
				add, list := l.open(t)
				empty, err := list(store.ListOptions{Limit: 3})
				must(t, "list(empty)", err)
				if len(empty.Items) != 0 || empty.HasMore {
					t.Errorf("empty listing gives %v has_more %v", empty.Items, empty.HasMore)
				}
				var created []string
				for range 6 {
					created = append(created, add())
				}
				cases := []struct {
					name        string
					opts        store.ListOptions
					want        []string
					wantHasMore bool
				}{
					{"exact fit", store.ListOptions{Limit: 6}, reversed(created), false},
					{"one short", store.ListOptions{Limit: 5}, reversed(created)[:5], true},
					{"no limit", store.ListOptions{}, reversed(created), false},
					{"asc no limit", store.ListOptions{Order: store.OrderAsc}, created, false},
					{"second page ends exactly", store.ListOptions{Limit: 3, After: created[3], Order: store.OrderDesc}, reversed(created[:3]), false},
					{"after the last asc", store.ListOptions{Limit: 3, After: created[5], Order: store.OrderAsc}, nil, false},
					{"after the last desc", store.ListOptions{Limit: 3, After: created[0]}, nil, false},
					{"asc middle", store.ListOptions{Limit: 2, After: created[1], Order: store.OrderAsc}, created[2:4], true},
				}
				for _, c := range cases {
					page, err := list(c.opts)
					must(t, c.name, err)
					if !slices.Equal(page.Items, c.want) {
						t.Errorf("%s: got %v, want %v", c.name, page.Items, c.want)
					}
					if page.HasMore != c.wantHasMore {
						t.Errorf("%s: has_more %v, want %v", c.name, page.HasMore, c.wantHasMore)
					}
				}
			})

			t.Run("byte budget", func(t *testing.T) {
				add, list := l.open(t)
				var created []string
				for range 4 {
					created = append(created, add())
				}
				// Every record weighs more than one byte: each page holds
				// exactly one record, and paging still reaches them all.
				var got []string
				opts := store.ListOptions{Limit: 100, MaxBytes: 1, Order: store.OrderAsc}
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatalf("pagination does not end; got %d ids", len(got))
					}
					page, err := list(opts)
					must(t, "list", err)
					if len(page.Items) != 1 {
						t.Fatalf("page of %d records with a budget of 1 byte, want 1", len(page.Items))
					}
					got = append(got, page.Items...)
					if !page.HasMore {
						break
					}
					opts.After = page.Items[0]
				}
				if !slices.Equal(got, created) {
					t.Errorf("paged through %v, want %v", got, created)
				}
				all, err := list(store.ListOptions{Limit: 100, MaxBytes: 1 << 20})
				must(t, "list", err)
				if len(all.Items) != 4 || all.HasMore {
					t.Errorf("a large budget gives %d records, has_more %v; want 4, false", len(all.Items), all.HasMore)
				}
			})

			t.Run("invalid cursor", func(t *testing.T) {
				add, list := l.open(t)
				add()
				for _, after := range []string{
					store.NewPublicID(store.PrefixProject),
					store.NewPublicID(store.PrefixConversation),
					store.NewPublicID(store.PrefixMessage),
					"not-an-id",
				} {
					for _, order := range []string{store.OrderAsc, store.OrderDesc} {
						_, err := list(store.ListOptions{Limit: 3, After: after, Order: order})
						wantErr(t, "list after "+after, err, store.ErrInvalidCursor)
					}
				}
			})
		})
	}
}

func orderName(order string) string {
	if order == "" {
		return "default"
	}
	return order
}
