package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func newGuest(t *testing.T, s store.Store) store.User {
	t.Helper()
	u, err := s.UpsertUser(t.Context(), store.User{Issuer: "gateway", Subject: RandomName("guest-"), Kind: store.UserKindGuest})
	must(t, "UpsertUser(guest)", err)
	return u
}

func testMergeGuest(t *testing.T, s store.Store) {
	ctx := t.Context
	t.Run("everything moves, names and settings follow the rules", func(t *testing.T) {
		guest, user := newGuest(t, s), newUser(t, s)
		conv, items := newConversation(t, s, guest, message("user", "hi"), message("assistant", "hello"))
		work, err := s.CreateProject(ctx(), store.Project{UserID: guest.ID, Name: "Work"})
		must(t, "CreateProject", err)
		long, err := s.CreateProject(ctx(), store.Project{UserID: guest.ID, Name: strings.Repeat("é", store.MaxProjectNameLength)})
		must(t, "CreateProject", err)
		solo, err := s.CreateProject(ctx(), store.Project{UserID: guest.ID, Name: "Solo"})
		must(t, "CreateProject", err)
		inProject, _, err := s.CreateConversation(ctx(), store.Conversation{UserID: guest.ID, ProjectPublicID: work.PublicID}, nil)
		must(t, "CreateConversation", err)
		for _, name := range []string{"work", "Work (guest)", strings.Repeat("é", store.MaxProjectNameLength)} {
			_, err := s.CreateProject(ctx(), store.Project{UserID: user.ID, Name: name})
			must(t, "CreateProject(user)", err)
		}
		_, err = s.UpdateSettings(ctx(), guest.ID, defaultSettings(), func(us *store.UserSettings) error {
			us.ProfileSettings.NickName = "Guesty"
			return nil
		})
		must(t, "UpdateSettings(guest)", err)
		tok, err := s.CreateRefreshToken(ctx(), store.RefreshToken{UserID: guest.ID, Hash: hash("rt"), ExpiresAt: now().Add(time.Hour)})
		must(t, "CreateRefreshToken", err)

		res, err := s.MergeGuest(ctx(), guest.ID, user.ID, now())
		must(t, "MergeGuest", err)
		if res != (store.GuestMerge{Conversations: 2, Projects: 3, RenamedProjects: 2, Settings: true}) {
			t.Errorf("MergeGuest = %+v", res)
		}
		// The guest has nothing left.
		if _, err := s.GetConversation(ctx(), guest.ID, conv.PublicID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the guest still reads its conversation: %v", err)
		}
		if page, _, _ := s.ListConversations(ctx(), guest.ID, store.ListOptions{}); len(page.Items) != 0 {
			t.Errorf("the guest still lists %d conversations", len(page.Items))
		}
		if _, err := s.GetSettings(ctx(), guest.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the guest still has settings: %v", err)
		}
		// The user has it all, items in order.
		got, err := s.ListItems(ctx(), user.ID, conv.PublicID, store.ListOptions{Order: store.OrderAsc})
		must(t, "ListItems(user)", err)
		if ids := publicIDsOfItems(got.Items); len(ids) != 2 || ids[0] != items[0].PublicID || ids[1] != items[1].PublicID {
			t.Errorf("the user's items = %v", ids)
		}
		c, err := s.GetConversation(ctx(), user.ID, inProject.PublicID)
		must(t, "GetConversation(user)", err)
		if c.ProjectPublicID != work.PublicID {
			t.Errorf("the conversation left its project: %q", c.ProjectPublicID)
		}
		p, err := s.GetProject(ctx(), user.ID, work.PublicID)
		must(t, "GetProject(work)", err)
		if p.Name != "Work (guest 2)" {
			t.Errorf("renamed project = %q, want Work (guest 2)", p.Name)
		}
		p, err = s.GetProject(ctx(), user.ID, long.PublicID)
		must(t, "GetProject(long)", err)
		if n := len([]rune(p.Name)); n != store.MaxProjectNameLength || !strings.HasSuffix(p.Name, " (guest)") {
			t.Errorf("long project renamed to %q (%d characters)", p.Name, n)
		}
		p, err = s.GetProject(ctx(), user.ID, solo.PublicID)
		must(t, "GetProject(solo)", err)
		if p.Name != "Solo" {
			t.Errorf("a project without a clash was renamed to %q", p.Name)
		}
		us, err := s.GetSettings(ctx(), user.ID)
		must(t, "GetSettings(user)", err)
		if us.ProfileSettings.NickName != "Guesty" || us.UserID != user.ID {
			t.Errorf("the user's settings = %+v, want the guest's", us)
		}
		// The guest's session ended.
		_, err = s.RotateRefreshToken(ctx(), tok.Hash, store.RefreshToken{Hash: hash("rt"), ExpiresAt: now().Add(time.Hour)}, now())
		if err == nil {
			t.Error("the guest's refresh token still rotates")
		}

		// Again: nothing left to move, still fine.
		res, err = s.MergeGuest(ctx(), guest.ID, user.ID, now())
		must(t, "MergeGuest(again)", err)
		if res != (store.GuestMerge{}) {
			t.Errorf("second MergeGuest = %+v, want nothing moved", res)
		}
	})

	t.Run("the user's own settings win", func(t *testing.T) {
		guest, user := newGuest(t, s), newUser(t, s)
		for _, u := range []struct {
			id   int64
			nick string
		}{{guest.ID, "Guesty"}, {user.ID, "Mine"}} {
			_, err := s.UpdateSettings(ctx(), u.id, defaultSettings(), func(us *store.UserSettings) error {
				us.ProfileSettings.NickName = u.nick
				return nil
			})
			must(t, "UpdateSettings", err)
		}
		res, err := s.MergeGuest(ctx(), guest.ID, user.ID, now())
		must(t, "MergeGuest", err)
		if res.Settings {
			t.Error("MergeGuest reports the guest's settings moved over the user's")
		}
		us, err := s.GetSettings(ctx(), user.ID)
		must(t, "GetSettings", err)
		if us.ProfileSettings.NickName != "Mine" {
			t.Errorf("the user's settings were replaced: %+v", us.ProfileSettings)
		}
		if _, err := s.GetSettings(ctx(), guest.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the guest's settings remain: %v", err)
		}
	})

	t.Run("kinds and ids", func(t *testing.T) {
		guest, user, other := newGuest(t, s), newUser(t, s), newGuest(t, s)
		_, err := s.MergeGuest(ctx(), user.ID, guest.ID, now())
		wantErr(t, "MergeGuest(user into guest)", err, store.ErrConflict)
		_, err = s.MergeGuest(ctx(), guest.ID, other.ID, now())
		wantErr(t, "MergeGuest(guest into guest)", err, store.ErrConflict)
		_, err = s.MergeGuest(ctx(), guest.ID, 1<<62, now())
		wantErr(t, "MergeGuest(unknown user)", err, store.ErrNotFound)
		_, err = s.MergeGuest(ctx(), 1<<62, user.ID, now())
		wantErr(t, "MergeGuest(unknown guest)", err, store.ErrNotFound)
	})
}
