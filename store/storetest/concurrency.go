package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/caddy-llm/gateway/store"
)

// testConcurrentAppends appends to one conversation from many goroutines at
// once, as parallel chat requests on one conversation do. Every item must be
// stored, each append's items must stay together in their order, and every
// read must see the same order.
func testConcurrentAppends(t *testing.T, s store.Store) {
	const writers = 50
	u := newUser(t, s)
	c, _ := newConversation(t, s, u)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			_, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{
				message("user", fmt.Sprintf("%d/question", w)),
				message("assistant", fmt.Sprintf("%d/answer", w)),
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "AppendItems", err)
	}

	readAll := func() []store.Item {
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems", err)
		return page.Items
	}
	first := readAll()
	if len(first) != 2*writers {
		t.Fatalf("%d items stored, want %d", len(first), 2*writers)
	}
	seen := make(map[string]bool)
	for i := 0; i < len(first); i += 2 {
		q, a := first[i].Content[0].Text, first[i+1].Content[0].Text
		var wq, wa int
		var sq, sa string
		if _, err := fmt.Sscanf(q, "%d/%s", &wq, &sq); err != nil {
			t.Fatalf("item %d text %q: %v", i, q, err)
		}
		if _, err := fmt.Sscanf(a, "%d/%s", &wa, &sa); err != nil {
			t.Fatalf("item %d text %q: %v", i+1, a, err)
		}
		if wq != wa || sq != "question" || sa != "answer" {
			t.Errorf("items %d and %d are %q and %q: one append's items were split or reordered", i, i+1, q, a)
		}
		if seen[q] {
			t.Errorf("item %q stored twice", q)
		}
		seen[q] = true
	}

	ids := publicIDsOfItems(first)
	for range 3 {
		if again := publicIDsOfItems(readAll()); !slices.Equal(again, ids) {
			t.Fatal("two reads of the same items disagree on their order")
		}
	}
	// Paging through gives the same order as one read.
	var paged []string
	opts := store.ListOptions{Limit: 7, Order: store.OrderAsc}
	for {
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, opts)
		must(t, "ListItems(page)", err)
		paged = append(paged, publicIDsOfItems(page.Items)...)
		if !page.HasMore {
			break
		}
		opts.After = page.Items[len(page.Items)-1].PublicID
	}
	if !slices.Equal(paged, ids) {
		t.Error("paging through the items gives another order than one read")
	}
}
