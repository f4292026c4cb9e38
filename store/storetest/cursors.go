package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/caddy-llm/gateway/store"
)

// deletableListing is a listing whose records can be deleted.
type deletableListing struct {
	name string
	open func(t *testing.T) (add func() string, remove func(id string), list func(store.ListOptions) (store.Page[string], error))
}

func deletableListings(s store.Store) []deletableListing {
	return []deletableListing{
		{"projects", func(t *testing.T) (func() string, func(string), func(store.ListOptions) (store.Page[string], error)) {
			u := newUser(t, s)
			n := 0
			add := func() string {
				n++
				p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: fmt.Sprintf("p%d", n)})
				must(t, "CreateProject", err)
				return p.PublicID
			}
			remove := func(id string) { must(t, "DeleteProject", s.DeleteProject(t.Context(), u.ID, id, now())) }
			list := func(opts store.ListOptions) (store.Page[string], error) {
				p, err := s.ListProjects(t.Context(), u.ID, opts)
				return store.Page[string]{Items: publicIDsOfProjects(p.Items), HasMore: p.HasMore}, err
			}
			return add, remove, list
		}},
		{"conversations", func(t *testing.T) (func() string, func(string), func(store.ListOptions) (store.Page[string], error)) {
			u := newUser(t, s)
			add := func() string {
				c, _ := newConversation(t, s, u)
				return c.PublicID
			}
			remove := func(id string) { must(t, "DeleteConversation", s.DeleteConversation(t.Context(), u.ID, id)) }
			list := func(opts store.ListOptions) (store.Page[string], error) {
				p, _, err := s.ListConversations(t.Context(), u.ID, opts)
				return store.Page[string]{Items: publicIDsOfConversations(p.Items), HasMore: p.HasMore}, err
			}
			return add, remove, list
		}},
		{"items", func(t *testing.T) (func() string, func(string), func(store.ListOptions) (store.Page[string], error)) {
			u := newUser(t, s)
			c, _ := newConversation(t, s, u)
			add := func() string {
				items, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("user", "x")})
				must(t, "AppendItems", err)
				return items[0].PublicID
			}
			remove := func(id string) { must(t, "DeleteItem", s.DeleteItem(t.Context(), u.ID, c.PublicID, id)) }
			list := func(opts store.ListOptions) (store.Page[string], error) {
				p, err := s.ListItems(t.Context(), u.ID, c.PublicID, opts)
				return store.Page[string]{Items: publicIDsOfItems(p.Items), HasMore: p.HasMore}, err
			}
			return add, remove, list
		}},
	}
}

// testDeletedCursor: a cursor naming a record deleted since the previous
// page continues the listing, in both orders; another user cannot use it.
func testDeletedCursor(t *testing.T, s store.Store) {
	for _, l := range deletableListings(s) {
		t.Run(l.name, func(t *testing.T) {
			for _, order := range []string{store.OrderAsc, store.OrderDesc} {
				t.Run("order "+order, func(t *testing.T) {
					add, remove, list := l.open(t)
					var created []string
					for range 7 {
						created = append(created, add())
					}
					if order == store.OrderDesc {
						created = reversed(created)
					}
					opts := store.ListOptions{Limit: 3, Order: order}
					page, err := list(opts)
					must(t, "first page", err)
					cursor := page.Items[2]
					// The cursor record and the next one go away.
					remove(cursor)
					remove(created[3])
					opts.After = cursor
					page, err = list(opts)
					must(t, "page after a deleted cursor", err)
					if want := created[4:7]; !slices.Equal(page.Items, want) || page.HasMore {
						t.Errorf("page after a deleted cursor = %v (has_more %v), want %v", page.Items, page.HasMore, want)
					}
					// Deleting the only record: the listing after it is empty.
					remove(created[6])
					opts.After = created[6]
					page, err = list(opts)
					must(t, "page after the deleted last record", err)
					if len(page.Items) != 0 || page.HasMore {
						t.Errorf("after the deleted last record: %v", page.Items)
					}
				})
			}
			t.Run("another user's deleted record", func(t *testing.T) {
				add, remove, _ := l.open(t)
				id := add()
				remove(id)
				_, _, list := l.open(t)
				_, err := list(store.ListOptions{Limit: 3, After: id})
				wantErr(t, "another user's deleted cursor", err, store.ErrInvalidCursor)
			})
		})
	}
}
