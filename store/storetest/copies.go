package storetest

import (
	"bytes"
	"testing"

	"github.com/caddy-llm/gateway/store"
)

// testCopies checks that records handed to or returned by the store share no
// memory with what it keeps: changing them afterwards changes nothing stored.
func testCopies(t *testing.T, s store.Store) {
	u := newUser(t, s)

	t.Run("conversation metadata and item content", func(t *testing.T) {
		meta := map[string]string{"k": "v"}
		items := []store.Item{message("user", "original")}
		c, created, err := s.CreateConversation(t.Context(), store.Conversation{UserID: u.ID, Metadata: meta}, items)
		must(t, "CreateConversation", err)
		meta["k"] = "changed input"
		items[0].Content[0].Text = "changed input"
		c.Metadata["k"] = "changed output"
		created[0].Content[0].Text = "changed output"

		got, err := s.GetConversation(t.Context(), u.ID, c.PublicID)
		must(t, "GetConversation", err)
		if got.Metadata["k"] != "v" {
			t.Errorf("stored metadata changed to %q", got.Metadata["k"])
		}
		it, err := s.GetItem(t.Context(), u.ID, c.PublicID, created[0].PublicID)
		must(t, "GetItem", err)
		if it.Content[0].Text != "original" {
			t.Errorf("stored item text changed to %q", it.Content[0].Text)
		}
		it.Content[0].Text = "changed again"
		page, err := s.ListItems(t.Context(), u.ID, c.PublicID, store.ListOptions{})
		must(t, "ListItems", err)
		if page.Items[0].Content[0].Text != "original" {
			t.Errorf("stored item text changed to %q", page.Items[0].Content[0].Text)
		}
	})

	t.Run("API key hash", func(t *testing.T) {
		h := hash("key")
		in := bytes.Clone(h)
		k, err := s.CreateAPIKey(t.Context(), store.APIKey{UserID: u.ID, Name: "k", Hash: in}, 0)
		must(t, "CreateAPIKey", err)
		in[0] ^= 0xff
		k.Hash[1] ^= 0xff
		got, _, err := s.GetAPIKeyByHash(t.Context(), h)
		must(t, "GetAPIKeyByHash(original hash)", err)
		got.Hash[2] ^= 0xff
		if _, _, err := s.GetAPIKeyByHash(t.Context(), h); err != nil {
			t.Errorf("GetAPIKeyByHash after changing returned hashes: %v", err)
		}
	})

	t.Run("settings preferences", func(t *testing.T) {
		var kept *store.UserSettings
		got, err := s.UpdateSettings(t.Context(), u.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.Preferences["a"] = "1"
			kept = us
			return nil
		})
		must(t, "UpdateSettings", err)
		kept.Preferences["a"] = "changed by apply later"
		got.Preferences["a"] = "changed output"
		read, err := s.GetSettings(t.Context(), u.ID)
		must(t, "GetSettings", err)
		if read.Preferences["a"] != "1" {
			t.Errorf("stored preference changed to %v", read.Preferences["a"])
		}
	})
}
