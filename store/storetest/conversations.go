package storetest

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// message returns a message item with one text part.
func message(role, text string) store.Item {
	typ := "input_text"
	if role == "assistant" {
		typ = "output_text"
	}
	return store.Item{Type: "message", Role: role, Status: store.ItemStatusCompleted, Content: []store.ContentPart{{Type: typ, Text: text}}}
}

func newConversation(t *testing.T, s store.Store, u store.User, items ...store.Item) (store.Conversation, []store.Item) {
	t.Helper()
	c, its, err := s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID}, items)
	must(t, "CreateConversation", err)
	return c, its
}

func testConversations(t *testing.T, s store.Store) {
	t.Run("create with items", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "P"})
		must(t, "CreateProject", err)
		c, items, err := s.CreateConversation(t.Context(), store.Conversation{
			UserID: u.ID, ProjectPublicID: p.PublicID, Title: "Hello", Metadata: map[string]string{"k": "v"},
		}, []store.Item{message("user", "hi"), message("assistant", "hello")})
		must(t, "CreateConversation", err)
		if c.ID == 0 || !strings.HasPrefix(c.PublicID, store.PrefixConversation+"_") || c.CreatedAt.IsZero() {
			t.Errorf("created conversation %+v: want ID, PublicID conv_…, CreatedAt", c)
		}
		if c.UserID != u.ID || c.ProjectPublicID != p.PublicID || c.Title != "Hello" || c.Archived || !maps.Equal(c.Metadata, map[string]string{"k": "v"}) {
			t.Errorf("created conversation %+v differs from input", c)
		}
		if len(items) != 2 {
			t.Fatalf("CreateConversation returned %d items, want 2", len(items))
		}
		for i, it := range items {
			if it.ID == 0 || !strings.HasPrefix(it.PublicID, store.PrefixMessage+"_") || it.ConversationID != c.ID || it.CreatedAt.IsZero() {
				t.Errorf("item %d = %+v: want ID, PublicID msg_…, ConversationID %d, CreatedAt", i, it, c.ID)
			}
		}
		if items[0].Role != "user" || items[0].Content[0].Text != "hi" || items[1].Role != "assistant" || items[1].Content[0].Type != "output_text" {
			t.Errorf("items = %+v, want the user's then the assistant's message", items)
		}
		got, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if got.ID != c.ID || got.Title != "Hello" || got.ProjectPublicID != p.PublicID || !maps.Equal(got.Metadata, c.Metadata) || !sameTime(got.CreatedAt, c.CreatedAt) {
			t.Errorf("GetConversation = %+v, want %+v", got, c)
		}
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems", err)
		if ids := publicIDsOfItems(page.Items); len(ids) != 2 || ids[0] != items[0].PublicID || ids[1] != items[1].PublicID {
			t.Errorf("ListItems = %v, want the created items in order", ids)
		}
	})

	t.Run("create without items or metadata", func(t *testing.T) {
		u := newUser(t, s)
		c, items := newConversation(t, s, u)
		if len(items) != 0 || c.ProjectPublicID != "" || c.Title != "" || len(c.Metadata) != 0 {
			t.Errorf("empty conversation %+v with %d items", c, len(items))
		}
	})

	t.Run("create in another user's project", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: other.ID, Name: "Theirs"})
		must(t, "CreateProject", err)
		_, _, err = s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, ProjectPublicID: p.PublicID}, nil)
		wantErr(t, "CreateConversation(another user's project)", err, store.ErrNotFound)
		_, _, err = s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, ProjectPublicID: store.NewPublicID(store.PrefixProject)}, nil)
		wantErr(t, "CreateConversation(unknown project)", err, store.ErrNotFound)
		list, total, err := s.ListConversations(t.Context(), u.ID, store.ListOptions{})
		must(t, "ListConversations", err)
		if total != 0 || len(list.Items) != 0 {
			t.Errorf("failed creates left %d conversations (total %d)", len(list.Items), total)
		}
	})

	t.Run("create for an unknown user", func(t *testing.T) {
		_, _, err := s.CreateConversation(t.Context(), store.Conversation{UserID: 987654321}, nil)
		wantErr(t, "CreateConversation(unknown user)", err, store.ErrNotFound)
	})

	t.Run("list with total", func(t *testing.T) {
		u := newUser(t, s)
		var ids []string
		for range 5 {
			c, _ := newConversation(t, s, u)
			ids = append(ids, c.PublicID)
		}
		newConversation(t, s, newUser(t, s)) // another user's does not count
		page, total, err := s.ListConversations(t.Context(), u.ID, store.ListOptions{Limit: 2})
		must(t, "ListConversations", err)
		if total != 5 {
			t.Errorf("total = %d, want 5", total)
		}
		if got := publicIDsOfConversations(page.Items); len(got) != 2 || got[0] != ids[4] || got[1] != ids[3] || !page.HasMore {
			t.Errorf("first page = %v has_more %v, want the two newest and has_more", got, page.HasMore)
		}
	})

	t.Run("update", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "P"})
		must(t, "CreateProject", err)
		c, _, err := s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, Title: "old", Metadata: map[string]string{"a": "1"}}, nil)
		must(t, "CreateConversation", err)
		at := now().Add(time.Minute)
		got, err := s.UpdateConversation(t.Context(), u.ID, c.PublicID, store.ConversationPatch{
			Title: ptr("new"), Archived: ptr(true), Metadata: map[string]string{"b": "2"}, ProjectPublicID: ptr(p.PublicID),
		}, at)
		must(t, "UpdateConversation", err)
		if got.Title != "new" || !got.Archived || !maps.Equal(got.Metadata, map[string]string{"b": "2"}) || got.ProjectPublicID != p.PublicID || !sameTime(got.UpdatedAt, at) {
			t.Errorf("updated conversation %+v", got)
		}
		got, err = s.UpdateConversation(t.Context(), u.ID, c.PublicID, store.ConversationPatch{Title: ptr("newer")}, at)
		must(t, "UpdateConversation(title)", err)
		if got.Title != "newer" || !got.Archived || got.Metadata["b"] != "2" || got.ProjectPublicID != p.PublicID {
			t.Errorf("patching the title changed other fields: %+v", got)
		}
		got, err = s.UpdateConversation(t.Context(), u.ID, c.PublicID, store.ConversationPatch{ProjectPublicID: ptr("")}, at)
		must(t, "UpdateConversation(leave project)", err)
		if got.ProjectPublicID != "" {
			t.Errorf("ProjectPublicID = %q after leaving the project", got.ProjectPublicID)
		}
		read, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if read.Title != "newer" || !read.Archived || read.ProjectPublicID != "" {
			t.Errorf("stored conversation %+v, want the updates", read)
		}
		other, err := s.CreateProject(t.Context(), store.Project{UserID: newUser(t, s).ID, Name: "Theirs"})
		must(t, "CreateProject", err)
		_, err = s.UpdateConversation(t.Context(), u.ID, c.PublicID, store.ConversationPatch{Title: ptr("x"), ProjectPublicID: ptr(other.PublicID)}, at)
		wantErr(t, "UpdateConversation(another user's project)", err, store.ErrNotFound)
		read, err = s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if read.Title != "newer" {
			t.Errorf("failed update changed the title to %q", read.Title)
		}
	})

	t.Run("deleting its project takes the conversation out of it", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "P"})
		must(t, "CreateProject", err)
		c, _, err := s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, ProjectPublicID: p.PublicID}, nil)
		must(t, "CreateConversation", err)
		must(t, "DeleteProject", s.DeleteProject(t.Context(), u.ID, p.PublicID, now()))
		got, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if got.ProjectPublicID != "" {
			t.Errorf("ProjectPublicID = %q, want empty after the project's deletion", got.ProjectPublicID)
		}
	})

	t.Run("delete removes its items", func(t *testing.T) {
		u := newUser(t, s)
		c, items := newConversation(t, s, u, message("user", "a"), message("assistant", "b"))
		must(t, "DeleteConversation", s.DeleteConversation(t.Context(), u.ID, c.PublicID))
		_, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		wantErr(t, "GetConversation(deleted)", err, store.ErrNotFound)
		_, err = s.GetItem(t.Context(), u.ID, c.PublicID, items[0].PublicID)
		wantErr(t, "GetItem(of deleted conversation)", err, store.ErrNotFound)
		_, err = s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{})
		wantErr(t, "ListItems(of deleted conversation)", err, store.ErrNotFound)
		_, err = s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("user", "c")})
		wantErr(t, "AppendItems(deleted conversation)", err, store.ErrNotFound)
		wantErr(t, "DeleteConversation(deleted)", s.DeleteConversation(t.Context(), u.ID, c.PublicID), store.ErrNotFound)
		_, total, err := s.ListConversations(t.Context(), u.ID, store.ListOptions{})
		must(t, "ListConversations", err)
		if total != 0 {
			t.Errorf("total = %d after deleting the only conversation", total)
		}
	})

	t.Run("set title if empty", func(t *testing.T) {
		u := newUser(t, s)
		c, _ := newConversation(t, s, u)
		got, err := s.SetConversationTitleIfEmpty(t.Context(), u.ID, c.PublicID, "First")
		must(t, "SetConversationTitleIfEmpty", err)
		if got.Title != "First" {
			t.Errorf("Title = %q, want First", got.Title)
		}
		got, err = s.SetConversationTitleIfEmpty(t.Context(), u.ID, c.PublicID, "Second")
		must(t, "SetConversationTitleIfEmpty(again)", err)
		if got.Title != "First" {
			t.Errorf("Title = %q, want First kept", got.Title)
		}
		read, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if read.Title != "First" {
			t.Errorf("stored title %q, want First", read.Title)
		}
		_, err = s.SetConversationTitleIfEmpty(t.Context(), u.ID, store.NewPublicID(store.PrefixConversation), "x")
		wantErr(t, "SetConversationTitleIfEmpty(unknown)", err, store.ErrNotFound)
	})

	t.Run("unknown", func(t *testing.T) {
		u := newUser(t, s)
		unknown := store.NewPublicID(store.PrefixConversation)
		_, err := s.GetConversation(t.Context(), u.ID, unknown)
		wantErr(t, "GetConversation(unknown)", err, store.ErrNotFound)
		_, err = s.UpdateConversation(t.Context(), u.ID, unknown, store.ConversationPatch{}, now())
		wantErr(t, "UpdateConversation(unknown)", err, store.ErrNotFound)
		wantErr(t, "DeleteConversation(unknown)", s.DeleteConversation(t.Context(), u.ID, unknown), store.ErrNotFound)
	})
}

func testItems(t *testing.T, s store.Store) {
	t.Run("append in order", func(t *testing.T) {
		u := newUser(t, s)
		c, first := newConversation(t, s, u, message("user", "1"))
		added, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("assistant", "2"), message("user", "3")})
		must(t, "AppendItems", err)
		if len(added) != 2 || added[0].Content[0].Text != "2" || added[1].Content[0].Text != "3" {
			t.Fatalf("AppendItems returned %+v, want items 2 and 3", added)
		}
		for _, it := range added {
			if it.ID == 0 || !strings.HasPrefix(it.PublicID, store.PrefixMessage+"_") || it.ConversationID != c.ID || it.CreatedAt.IsZero() {
				t.Errorf("appended item %+v: want ID, PublicID msg_…, ConversationID, CreatedAt", it)
			}
		}
		more, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("assistant", "4")})
		must(t, "AppendItems", err)
		want := []string{first[0].PublicID, added[0].PublicID, added[1].PublicID, more[0].PublicID}

		asc, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems(asc)", err)
		if got := publicIDsOfItems(asc.Items); !slices.Equal(got, want) || asc.HasMore {
			t.Errorf("ListItems(asc) = %v has_more %v, want %v", got, asc.HasMore, want)
		}
		if txt := asc.Items[2].Content[0].Text; txt != "3" {
			t.Errorf("third item's text = %q, want 3", txt)
		}
		desc, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{})
		must(t, "ListItems(default order)", err)
		if got := publicIDsOfItems(desc.Items); !slices.Equal(got, reversed(want)) {
			t.Errorf("ListItems(default order) = %v, want newest first %v", got, reversed(want))
		}
	})

	t.Run("append updates the conversation", func(t *testing.T) {
		u := newUser(t, s)
		c, _ := newConversation(t, s, u)
		_, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("user", "x")})
		must(t, "AppendItems", err)
		got, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if got.UpdatedAt.Before(c.UpdatedAt) {
			t.Errorf("UpdatedAt went back from %v to %v", c.UpdatedAt, got.UpdatedAt)
		}
	})

	t.Run("item fields round trip", func(t *testing.T) {
		u := newUser(t, s)
		c, _ := newConversation(t, s, u)
		in := store.Item{Type: "message", Role: "user", Status: store.ItemStatusIncomplete, Content: []store.ContentPart{
			{Type: "input_text", Text: "look"}, {Type: "input_image", ImageURL: "jan_123"},
		}}
		added, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{in})
		must(t, "AppendItems", err)
		got, err := s.GetItem(t.Context(), u.ID, c.PublicID, added[0].PublicID)
		must(t, "GetItem", err)
		if got.ID != added[0].ID || got.Type != "message" || got.Role != "user" || got.Status != store.ItemStatusIncomplete ||
			len(got.Content) != 2 || got.Content[0] != in.Content[0] || got.Content[1] != in.Content[1] || !sameTime(got.CreatedAt, added[0].CreatedAt) {
			t.Errorf("GetItem = %+v, want %+v", got, in)
		}
	})

	t.Run("get and delete", func(t *testing.T) {
		u := newUser(t, s)
		c, items := newConversation(t, s, u, message("user", "a"), message("assistant", "b"), message("user", "c"))
		other, otherItems := newConversation(t, s, u, message("user", "z"))
		_, err := s.GetItem(t.Context(), u.ID, c.PublicID, otherItems[0].PublicID)
		wantErr(t, "GetItem(item of another conversation)", err, store.ErrNotFound)
		wantErr(t, "DeleteItem(item of another conversation)", s.DeleteItem(t.Context(), u.ID, c.PublicID, otherItems[0].PublicID), store.ErrNotFound)

		must(t, "DeleteItem", s.DeleteItem(t.Context(), u.ID, c.PublicID, items[1].PublicID))
		_, err = s.GetItem(t.Context(), u.ID, c.PublicID, items[1].PublicID)
		wantErr(t, "GetItem(deleted)", err, store.ErrNotFound)
		wantErr(t, "DeleteItem(deleted)", s.DeleteItem(t.Context(), u.ID, c.PublicID, items[1].PublicID), store.ErrNotFound)
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems", err)
		if got, want := publicIDsOfItems(page.Items), []string{items[0].PublicID, items[2].PublicID}; !slices.Equal(got, want) {
			t.Errorf("ListItems after delete = %v, want %v", got, want)
		}
		// Appending after a delete still goes to the end.
		added, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("assistant", "d")})
		must(t, "AppendItems", err)
		page, err = s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems", err)
		if got, want := publicIDsOfItems(page.Items), []string{items[0].PublicID, items[2].PublicID, added[0].PublicID}; !slices.Equal(got, want) {
			t.Errorf("ListItems after append = %v, want %v", got, want)
		}
		if _, err := s.GetItem(t.Context(), u.ID, other.PublicID, otherItems[0].PublicID); err != nil {
			t.Errorf("the other conversation's item is gone: %v", err)
		}
		_, err = s.GetItem(t.Context(), u.ID, c.PublicID, store.NewPublicID(store.PrefixMessage))
		wantErr(t, "GetItem(unknown)", err, store.ErrNotFound)
	})

	t.Run("unknown conversation", func(t *testing.T) {
		u := newUser(t, s)
		unknown := store.NewPublicID(store.PrefixConversation)
		_, err := s.AppendItems(t.Context(), u.ID, unknown, []store.Item{message("user", "x")})
		wantErr(t, "AppendItems(unknown conversation)", err, store.ErrNotFound)
		_, err = s.ListItems(t.Context(), u.ID, unknown, store.ListOptions{})
		wantErr(t, "ListItems(unknown conversation)", err, store.ErrNotFound)
		_, err = s.GetItem(t.Context(), u.ID, unknown, store.NewPublicID(store.PrefixMessage))
		wantErr(t, "GetItem(unknown conversation)", err, store.ErrNotFound)
		wantErr(t, "DeleteItem(unknown conversation)", s.DeleteItem(t.Context(), u.ID, unknown, store.NewPublicID(store.PrefixMessage)), store.ErrNotFound)
	})
}

func publicIDsOfConversations(cs []store.Conversation) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.PublicID
	}
	return ids
}

func publicIDsOfItems(items []store.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.PublicID
	}
	return ids
}
