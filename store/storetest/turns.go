package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func testTurns(t *testing.T, s store.Store) {
	ts, ok := s.(store.TurnStore)
	if !ok {
		t.Fatalf("%T does not implement store.TurnStore", s)
	}
	t.Run("appends, titles once, reads instruction and settings", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "P", Instruction: "Be brief."})
		must(t, "CreateProject", err)
		c, _, err := s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, ProjectPublicID: p.PublicID}, []store.Item{message("user", "earlier")})
		must(t, "CreateConversation", err)
		_, err = s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.ProfileSettings.NickName = "Ann"
			return nil
		})
		must(t, "UpdateSettings", err)

		hi := message("user", "hi")
		tc, err := ts.StartTurn(t.Context(), u.ID, c.PublicID, store.TurnStart{Write: true, User: &hi, Title: "First"})
		must(t, "StartTurn", err)
		if tc.Conversation.PublicID != c.PublicID || tc.Conversation.Title != "First" || tc.Conversation.ProjectPublicID != p.PublicID || tc.Conversation.Metadata == nil {
			t.Errorf("conversation %+v: want %s titled First in project %s", tc.Conversation, c.PublicID, p.PublicID)
		}
		if tc.Conversation.UpdatedAt.Before(c.UpdatedAt) {
			t.Errorf("UpdatedAt %v went back from %v", tc.Conversation.UpdatedAt, c.UpdatedAt)
		}
		if tc.Instruction != "Be brief." || !tc.HasSettings || tc.Settings.ProfileSettings.NickName != "Ann" {
			t.Errorf("instruction %q, settings %v %+v", tc.Instruction, tc.HasSettings, tc.Settings.ProfileSettings)
		}
		// A titled conversation keeps its title.
		again := message("user", "again")
		tc, err = ts.StartTurn(t.Context(), u.ID, c.PublicID, store.TurnStart{Write: true, User: &again, Title: "Second"})
		must(t, "StartTurn", err)
		if tc.Conversation.Title != "First" {
			t.Errorf("title %q after a second turn, want First", tc.Conversation.Title)
		}
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems", err)
		var texts []string
		for _, it := range page.Items {
			texts = append(texts, it.Content[0].Text)
			if it.PublicID == "" || it.ConversationID != c.ID || it.Status != store.ItemStatusCompleted || it.Type != "message" {
				t.Errorf("stored item %+v", it)
			}
		}
		if len(texts) != 3 || texts[0] != "earlier" || texts[1] != "hi" || texts[2] != "again" {
			t.Errorf("items %q, want earlier, hi, again", texts)
		}
		// Appends after the turn's come after it.
		added, err := s.AppendItems(t.Context(), u.ID, c.PublicID, []store.Item{message("assistant", "reply")})
		must(t, "AppendItems", err)
		page, err = s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems", err)
		if n := len(page.Items); n != 4 || page.Items[n-1].PublicID != added[0].PublicID {
			t.Errorf("after an append: %d items, last %+v", n, page.Items[n-1])
		}
	})
	t.Run("a turn not written writes nothing", func(t *testing.T) {
		u := newUser(t, s)
		c, _ := newConversation(t, s, u)
		hi := message("user", "hi")
		tc, err := ts.StartTurn(t.Context(), u.ID, c.PublicID, store.TurnStart{Write: false, User: &hi, Title: "T"})
		must(t, "StartTurn", err)
		if tc.Conversation.Title != "" || tc.Instruction != "" || tc.HasSettings {
			t.Errorf("turn context %+v, want the conversation untouched, no instruction, no settings", tc)
		}
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{})
		must(t, "ListItems", err)
		if len(page.Items) != 0 {
			t.Errorf("%d items written", len(page.Items))
		}
	})
	t.Run("title only, and a deleted project", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "P", Instruction: "gone"})
		must(t, "CreateProject", err)
		c, _, err := s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, ProjectPublicID: p.PublicID}, nil)
		must(t, "CreateConversation", err)
		must(t, "DeleteProject", s.DeleteProject(t.Context(), u.ID, p.PublicID, time.Now()))
		tc, err := ts.StartTurn(t.Context(), u.ID, c.PublicID, store.TurnStart{Write: true, Title: "T"})
		must(t, "StartTurn", err)
		if tc.Conversation.Title != "T" || tc.Instruction != "" {
			t.Errorf("turn context %+v, want titled T, no instruction", tc)
		}
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{})
		must(t, "ListItems", err)
		if len(page.Items) != 0 {
			t.Errorf("%d items written by a turn without a user message", len(page.Items))
		}
	})
	t.Run("another user's conversation is not found, nothing written", func(t *testing.T) {
		owner, other := newUser(t, s), newUser(t, s)
		c, _ := newConversation(t, s, owner)
		hi := message("user", "hi")
		for _, write := range []bool{true, false} {
			_, err := ts.StartTurn(t.Context(), other.ID, c.PublicID, store.TurnStart{Write: write, User: &hi, Title: "stolen"})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("write %v: error %v, want ErrNotFound", write, err)
			}
		}
		got, err := s.GetConversation(t.Context(), owner.ID, c.PublicID)
		must(t, "GetConversation", err)
		page, err := s.ListItems(t.Context(), owner.ID, c.PublicID, store.ListOptions{})
		must(t, "ListItems", err)
		if got.Title != "" || len(page.Items) != 0 {
			t.Errorf("title %q and %d items after another user's turn", got.Title, len(page.Items))
		}
		if _, err := ts.StartTurn(t.Context(), owner.ID, "conv_missing", store.TurnStart{Write: true, User: &hi}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing conversation: error %v, want ErrNotFound", err)
		}
	})
}
