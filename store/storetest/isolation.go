package storetest

import (
	"testing"

	"github.com/caddy-llm/gateway/store"
)

// testIsolation checks that user B can neither see nor change anything of
// user A's, and that every attempt looks like the record does not exist.
func testIsolation(t *testing.T, s store.Store) {
	a, b := newUser(t, s), newUser(t, s)
	proj, err := s.CreateProject(t.Context(), store.Project{UserID: a.ID, Name: "Secret"})
	must(t, "CreateProject", err)
	conv, items, err := s.CreateConversation(t.Context(), store.Conversation{UserID: a.ID, ProjectPublicID: proj.PublicID, Title: "Mine"},
		[]store.Item{message("user", "private")})
	must(t, "CreateConversation", err)
	key, err := s.CreateAPIKey(t.Context(), store.APIKey{UserID: a.ID, Name: "k", Hash: hash("key")}, 0)
	must(t, "CreateAPIKey", err)
	bConv, _ := newConversation(t, s, b)
	_, err = s.UpdateSettings(t.Context(), a.ID, store.UserSettings{}, func(us *store.UserSettings) error {
		us.ProfileSettings.NickName = "A"
		return nil
	})
	must(t, "UpdateSettings", err)

	notFound := []struct {
		name string
		call func() error
	}{
		{"GetProject", func() error { _, err := s.GetProject(t.Context(), b.ID, proj.PublicID); return err }},
		{"UpdateProject", func() error {
			_, err := s.UpdateProject(t.Context(), b.ID, proj.PublicID, store.ProjectPatch{Name: ptr("pwned")}, now())
			return err
		}},
		{"DeleteProject", func() error { return s.DeleteProject(t.Context(), b.ID, proj.PublicID, now()) }},
		{"GetConversation", func() error { _, err := s.GetConversation(t.Context(), b.ID, conv.PublicID); return err }},
		{"UpdateConversation", func() error {
			_, err := s.UpdateConversation(t.Context(), b.ID, conv.PublicID, store.ConversationPatch{Title: ptr("pwned")}, now())
			return err
		}},
		{"DeleteConversation", func() error { return s.DeleteConversation(t.Context(), b.ID, conv.PublicID) }},
		{"SetConversationTitleIfEmpty", func() error {
			_, err := s.SetConversationTitleIfEmpty(t.Context(), b.ID, conv.PublicID, "pwned")
			return err
		}},
		{"CreateConversation in A's project", func() error {
			_, _, err := s.CreateConversation(t.Context(), store.Conversation{UserID: b.ID, ProjectPublicID: proj.PublicID}, nil)
			return err
		}},
		{"UpdateConversation into A's project", func() error {
			_, err := s.UpdateConversation(t.Context(), b.ID, bConv.PublicID, store.ConversationPatch{ProjectPublicID: ptr(proj.PublicID)}, now())
			return err
		}},
		{"AppendItems", func() error {
			_, err := s.AppendItems(t.Context(), b.ID, conv.PublicID, []store.Item{message("user", "x")})
			return err
		}},
		{"ListItems", func() error { _, err := s.ListItems(t.Context(), b.ID, conv.PublicID, store.ListOptions{}); return err }},
		{"GetItem", func() error { _, err := s.GetItem(t.Context(), b.ID, conv.PublicID, items[0].PublicID); return err }},
		{"GetItem through B's conversation", func() error {
			_, err := s.GetItem(t.Context(), b.ID, bConv.PublicID, items[0].PublicID)
			return err
		}},
		{"DeleteItem", func() error { return s.DeleteItem(t.Context(), b.ID, conv.PublicID, items[0].PublicID) }},
		{"DeleteItem through B's conversation", func() error { return s.DeleteItem(t.Context(), b.ID, bConv.PublicID, items[0].PublicID) }},
		{"RevokeAPIKey", func() error { return s.RevokeAPIKey(t.Context(), b.ID, key.PublicID, now()) }},
		{"GetSettings", func() error { _, err := s.GetSettings(t.Context(), b.ID); return err }},
	}
	for _, c := range notFound {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name, c.call(), store.ErrNotFound)
		})
	}

	invalidCursor := []struct {
		name string
		call func() error
	}{
		{"ListProjects", func() error {
			_, err := s.ListProjects(t.Context(), b.ID, store.ListOptions{After: proj.PublicID})
			return err
		}},
		{"ListConversations", func() error {
			_, _, err := s.ListConversations(t.Context(), b.ID, store.ListOptions{After: conv.PublicID})
			return err
		}},
		{"ListItems of B's conversation after A's item", func() error {
			_, err := s.ListItems(t.Context(), b.ID, bConv.PublicID, store.ListOptions{After: items[0].PublicID})
			return err
		}},
	}
	for _, c := range invalidCursor {
		t.Run(c.name+" with A's cursor", func(t *testing.T) {
			wantErr(t, c.name, c.call(), store.ErrInvalidCursor)
		})
	}

	t.Run("B's listings hold nothing of A's", func(t *testing.T) {
		projects, err := s.ListProjects(t.Context(), b.ID, store.ListOptions{})
		must(t, "ListProjects", err)
		convs, total, err := s.ListConversations(t.Context(), b.ID, store.ListOptions{})
		must(t, "ListConversations", err)
		keys, err := s.ListAPIKeys(t.Context(), b.ID)
		must(t, "ListAPIKeys", err)
		if len(projects.Items) != 0 || len(keys) != 0 || total != 1 || len(convs.Items) != 1 || convs.Items[0].PublicID != bConv.PublicID {
			t.Errorf("B lists %d projects, %d keys, conversations %v (total %d); want only B's one conversation",
				len(projects.Items), len(keys), publicIDsOfConversations(convs.Items), total)
		}
	})

	t.Run("A's data is intact", func(t *testing.T) {
		p, err := s.GetProject(t.Context(), a.ID, proj.PublicID)
		must(t, "GetProject", err)
		c, err := s.GetConversation(t.Context(), a.ID, conv.PublicID)
		must(t, "GetConversation", err)
		page, err := s.ListItems(t.Context(), a.ID, conv.PublicID, store.ListOptions{})
		must(t, "ListItems", err)
		keys, err := s.ListAPIKeys(t.Context(), a.ID)
		must(t, "ListAPIKeys", err)
		if p.Name != "Secret" || c.Title != "Mine" || c.ProjectPublicID != proj.PublicID || len(page.Items) != 1 || len(keys) != 1 {
			t.Errorf("A's data changed: project %q, conversation %q in %q, %d items, %d keys", p.Name, c.Title, c.ProjectPublicID, len(page.Items), len(keys))
		}
	})
}
