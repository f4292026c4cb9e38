package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddy-llm/gateway/store"
)

// CreateProject implements store.ProjectStore. Names are compared
// case-insensitively, like the unique index on lower(name) of store/postgres.
func (s *Store) CreateProject(_ context.Context, p store.Project) (store.Project, error) {
	const op = "creating project"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.requireUser(op, p.UserID); err != nil {
		return store.Project{}, err
	}
	if s.projectNameTaken(p.UserID, p.Name, 0) {
		return store.Project{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	if p.PublicID == "" {
		p.PublicID = store.NewPublicID(store.PrefixProject)
	} else if _, dup := s.projectByPublicID[p.PublicID]; dup {
		return store.Project{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	now := s.now()
	rec := copyProject(&p)
	rec.ID = s.nextID()
	rec.CreatedAt, rec.UpdatedAt = now, now
	switch {
	case !rec.Archived:
		rec.ArchivedAt = nil
	case rec.ArchivedAt == nil:
		rec.ArchivedAt = &now
	}
	s.projectByID[rec.ID] = &rec
	s.projectByPublicID[rec.PublicID] = &rec
	s.projectsByUser[rec.UserID] = append(s.projectsByUser[rec.UserID], &rec)
	return copyProject(&rec), nil
}

// projectNameTaken reports whether another of the user's projects than the
// one with id except has the name. Callers hold s.mu.
func (s *Store) projectNameTaken(userID int64, name string, except int64) bool {
	lower := strings.ToLower(name)
	for _, p := range s.projectsByUser[userID] {
		if p.ID != except && strings.ToLower(p.Name) == lower {
			return true
		}
	}
	return false
}

// userProject returns the user's project with the public id. Callers hold
// s.mu.
func (s *Store) userProject(userID int64, publicID string) (*store.Project, bool) {
	p, ok := s.projectByPublicID[publicID]
	if !ok || p.UserID != userID {
		return nil, false
	}
	return p, true
}

// GetProject implements store.ProjectStore.
func (s *Store) GetProject(_ context.Context, userID int64, publicID string) (store.Project, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.userProject(userID, publicID)
	if !ok {
		return store.Project{}, fmt.Errorf("getting project: %w", store.ErrNotFound)
	}
	return copyProject(p), nil
}

// ListProjects implements store.ProjectStore.
func (s *Store) ListProjects(_ context.Context, userID int64, opts store.ListOptions) (store.Page[store.Project], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var after int64
	if opts.After != "" {
		if p, ok := s.userProject(userID, opts.After); ok {
			after = p.ID
		} else if after, ok = s.buried(userID, 0, opts.After); !ok {
			return store.Page[store.Project]{}, fmt.Errorf("listing projects: %w", store.ErrInvalidCursor)
		}
	}
	return page(s.projectsByUser[userID], projectID, opts, after, opts.After != "", copyProject, (*store.Project).Size)
}

func projectID(p *store.Project) int64 { return p.ID }

// UpdateProject implements store.ProjectStore. Archiving a project that is
// already archived keeps its ArchivedAt.
func (s *Store) UpdateProject(_ context.Context, userID int64, publicID string, patch store.ProjectPatch, now time.Time) (store.Project, error) {
	const op = "updating project"
	now = normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.userProject(userID, publicID)
	if !ok {
		return store.Project{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if patch.Name != nil && s.projectNameTaken(userID, *patch.Name, p.ID) {
		return store.Project{}, fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	if patch.Name != nil {
		p.Name = *patch.Name
	}
	if patch.Instruction != nil {
		p.Instruction = *patch.Instruction
	}
	if patch.IsFavorite != nil {
		p.IsFavorite = *patch.IsFavorite
	}
	if patch.Archived != nil {
		switch {
		case !*patch.Archived:
			p.Archived, p.ArchivedAt = false, nil
		case p.ArchivedAt == nil:
			at := now
			p.Archived, p.ArchivedAt = true, &at
		}
	}
	p.UpdatedAt = now
	return copyProject(p), nil
}

// DeleteProject implements store.ProjectStore. The project's conversations
// stay and leave the project, as in store/postgres.
func (s *Store) DeleteProject(_ context.Context, userID int64, publicID string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.userProject(userID, publicID)
	if !ok {
		return fmt.Errorf("deleting project: %w", store.ErrNotFound)
	}
	delete(s.projectByID, p.ID)
	delete(s.projectByPublicID, p.PublicID)
	s.bury(p.PublicID, tombstone{userID: userID, key: p.ID})
	s.projectsByUser[userID] = slices.DeleteFunc(s.projectsByUser[userID], func(q *store.Project) bool { return q == p })
	for _, c := range s.conversationsByUser[userID] {
		if c.projectID == p.ID {
			c.projectID = 0
		}
	}
	return nil
}
