package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/store"
)

func testProjects(t *testing.T, s store.Store) {
	create := func(t *testing.T, u store.User, name string) store.Project {
		t.Helper()
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: name, Instruction: "be brief"})
		must(t, "CreateProject", err)
		return p
	}

	t.Run("create and get", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "Work", Instruction: "be brief", IsFavorite: true})
		must(t, "CreateProject", err)
		if p.ID == 0 || !strings.HasPrefix(p.PublicID, store.PrefixProject+"_") || p.CreatedAt.IsZero() || !sameTime(p.CreatedAt, p.UpdatedAt) {
			t.Errorf("created project %+v: want ID, PublicID proj_…, equal timestamps", p)
		}
		if p.UserID != u.ID || p.Name != "Work" || p.Instruction != "be brief" || !p.IsFavorite || p.Archived || p.ArchivedAt != nil {
			t.Errorf("created project %+v differs from input", p)
		}
		got, err := s.GetProject(t.Context(), u.ID, p.PublicID)
		must(t, "GetProject", err)
		if got.ID != p.ID || got.Name != p.Name || got.Instruction != p.Instruction || got.IsFavorite != p.IsFavorite || !sameTime(got.CreatedAt, p.CreatedAt) {
			t.Errorf("GetProject = %+v, want %+v", got, p)
		}
	})

	t.Run("create archived", func(t *testing.T) {
		u := newUser(t, s)
		p, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: "Old", Archived: true})
		must(t, "CreateProject", err)
		if !p.Archived || p.ArchivedAt == nil {
			t.Errorf("project created archived has Archived %v ArchivedAt %s", p.Archived, fmtTimePtr(p.ArchivedAt))
		}
	})

	t.Run("create for an unknown user", func(t *testing.T) {
		_, err := s.CreateProject(t.Context(), store.Project{UserID: 987654321, Name: "x"})
		wantErr(t, "CreateProject(unknown user)", err, store.ErrNotFound)
	})

	t.Run("names are unique per user, ignoring case", func(t *testing.T) {
		u, other := newUser(t, s), newUser(t, s)
		create(t, u, "Research")
		for _, name := range []string{"Research", "research", "RESEARCH"} {
			_, err := s.CreateProject(t.Context(), store.Project{UserID: u.ID, Name: name})
			wantErr(t, "CreateProject("+name+")", err, store.ErrConflict)
		}
		create(t, other, "Research") // another user may use the name
		create(t, u, "Research 2")
	})

	t.Run("name is free again after delete", func(t *testing.T) {
		u := newUser(t, s)
		p := create(t, u, "Temp")
		must(t, "DeleteProject", s.DeleteProject(t.Context(), u.ID, p.PublicID, now()))
		again := create(t, u, "temp")
		if again.PublicID == p.PublicID {
			t.Error("re-created project reuses the deleted one's public id")
		}
	})

	t.Run("update", func(t *testing.T) {
		u := newUser(t, s)
		p := create(t, u, "Before")
		at := now().Add(time.Minute)
		got, err := s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{
			Name: ptr("After"), Instruction: ptr("be thorough"), IsFavorite: ptr(true),
		}, at)
		must(t, "UpdateProject", err)
		if got.Name != "After" || got.Instruction != "be thorough" || !got.IsFavorite || got.Archived {
			t.Errorf("updated project %+v", got)
		}
		if !sameTime(got.UpdatedAt, at) || !sameTime(got.CreatedAt, p.CreatedAt) {
			t.Errorf("UpdatedAt %v CreatedAt %v, want %v and %v", got.UpdatedAt, got.CreatedAt, at, p.CreatedAt)
		}
		// An empty patch changes nothing but UpdatedAt; nil fields stay.
		got, err = s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{}, at)
		must(t, "UpdateProject(empty)", err)
		if got.Name != "After" || got.Instruction != "be thorough" || !got.IsFavorite {
			t.Errorf("empty patch changed the project: %+v", got)
		}
		read, err := s.GetProject(t.Context(), u.ID, p.PublicID)
		must(t, "GetProject", err)
		if read.Name != "After" || read.Instruction != "be thorough" || !read.IsFavorite {
			t.Errorf("stored project %+v, want the update", read)
		}
		// Renaming to a different case of its own name is fine.
		_, err = s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{Name: ptr("AFTER")}, at)
		must(t, "UpdateProject(own name, other case)", err)
	})

	t.Run("rename to a taken name", func(t *testing.T) {
		u := newUser(t, s)
		create(t, u, "Taken")
		p := create(t, u, "Free")
		_, err := s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{Name: ptr("taken")}, now())
		wantErr(t, "UpdateProject(taken name)", err, store.ErrConflict)
		read, err := s.GetProject(t.Context(), u.ID, p.PublicID)
		must(t, "GetProject", err)
		if read.Name != "Free" {
			t.Errorf("failed rename changed the name to %q", read.Name)
		}
	})

	t.Run("archive", func(t *testing.T) {
		u := newUser(t, s)
		p := create(t, u, "Box")
		at := now()
		got, err := s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{Archived: ptr(true)}, at)
		must(t, "UpdateProject(archive)", err)
		if !got.Archived || !sameTimePtr(got.ArchivedAt, &at) {
			t.Errorf("archived project: Archived %v ArchivedAt %s, want true %v", got.Archived, fmtTimePtr(got.ArchivedAt), at)
		}
		got, err = s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{Archived: ptr(true)}, at.Add(time.Hour))
		must(t, "UpdateProject(archive again)", err)
		if !sameTimePtr(got.ArchivedAt, &at) {
			t.Errorf("archiving again moved ArchivedAt to %s, want %v", fmtTimePtr(got.ArchivedAt), at)
		}
		got, err = s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{Archived: ptr(false)}, at)
		must(t, "UpdateProject(unarchive)", err)
		if got.Archived || got.ArchivedAt != nil {
			t.Errorf("unarchived project: Archived %v ArchivedAt %s, want false nil", got.Archived, fmtTimePtr(got.ArchivedAt))
		}
	})

	t.Run("soft delete", func(t *testing.T) {
		u := newUser(t, s)
		p := create(t, u, "Gone")
		keep := create(t, u, "Kept")
		must(t, "DeleteProject", s.DeleteProject(t.Context(), u.ID, p.PublicID, now()))
		_, err := s.GetProject(t.Context(), u.ID, p.PublicID)
		wantErr(t, "GetProject(deleted)", err, store.ErrNotFound)
		_, err = s.UpdateProject(t.Context(), u.ID, p.PublicID, store.ProjectPatch{Name: ptr("x")}, now())
		wantErr(t, "UpdateProject(deleted)", err, store.ErrNotFound)
		wantErr(t, "DeleteProject(deleted)", s.DeleteProject(t.Context(), u.ID, p.PublicID, now()), store.ErrNotFound)
		// A cursor naming it still continues the listing (testDeletedCursor).
		after, err := s.ListProjects(t.Context(), u.ID, store.ListOptions{After: p.PublicID, Order: store.OrderAsc})
		must(t, "ListProjects(after deleted)", err)
		if len(after.Items) != 1 || after.Items[0].PublicID != keep.PublicID {
			t.Errorf("ListProjects(after deleted) = %v, want only %s", publicIDsOfProjects(after.Items), keep.PublicID)
		}
		page, err := s.ListProjects(t.Context(), u.ID, store.ListOptions{Limit: 10})
		must(t, "ListProjects", err)
		if len(page.Items) != 1 || page.Items[0].PublicID != keep.PublicID {
			t.Errorf("ListProjects after delete = %v, want only %s", publicIDsOfProjects(page.Items), keep.PublicID)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		u := newUser(t, s)
		unknown := store.NewPublicID(store.PrefixProject)
		_, err := s.GetProject(t.Context(), u.ID, unknown)
		wantErr(t, "GetProject(unknown)", err, store.ErrNotFound)
		_, err = s.UpdateProject(t.Context(), u.ID, unknown, store.ProjectPatch{}, now())
		wantErr(t, "UpdateProject(unknown)", err, store.ErrNotFound)
		wantErr(t, "DeleteProject(unknown)", s.DeleteProject(t.Context(), u.ID, unknown, now()), store.ErrNotFound)
	})
}

func publicIDsOfProjects(ps []store.Project) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.PublicID
	}
	return ids
}
