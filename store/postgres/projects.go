package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/caddy-llm/gateway/store"
)

const projectColumns = `id, public_id, user_id, name, instruction, is_favorite, archived_at, created_at, updated_at`

func scanProject(row pgx.Row) (store.Project, error) {
	var p store.Project
	err := row.Scan(&p.ID, &p.PublicID, &p.UserID, &p.Name, &p.Instruction, &p.IsFavorite, &p.ArchivedAt, &p.CreatedAt, &p.UpdatedAt)
	p.Archived = p.ArchivedAt != nil
	return p, err
}

// CreateProject implements store.ProjectStore. Names are unique per user
// ignoring case (see the migration), so a clash is store.ErrConflict.
func (s *Store) CreateProject(ctx context.Context, p store.Project) (store.Project, error) {
	defer s.wrote(p.UserID) // read your writes: see replica
	if p.PublicID == "" {
		p.PublicID = store.NewPublicID(store.PrefixProject)
	}
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	got, err := scanProject(s.pool.QueryRow(qctx, `
INSERT INTO projects (public_id, user_id, name, instruction, is_favorite, archived_at)
VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::boolean THEN COALESCE($7, now()) END)
RETURNING `+projectColumns,
		p.PublicID, p.UserID, p.Name, p.Instruction, p.IsFavorite, p.Archived, p.ArchivedAt))
	if err != nil {
		return store.Project{}, s.mapErr(ctx, "creating project", err)
	}
	return got, nil
}

// GetProject implements store.ProjectStore.
func (s *Store) GetProject(ctx context.Context, userID int64, publicID string) (store.Project, error) {
	db := s.reader(userID) // the replica unless this user just wrote
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	p, err := scanProject(db.QueryRow(qctx, `
SELECT `+projectColumns+` FROM projects
WHERE user_id = $1 AND public_id = $2 AND deleted_at IS NULL`, userID, publicID))
	if err != nil {
		return store.Project{}, s.mapErr(ctx, "getting project", err)
	}
	return p, nil
}

// ListProjects implements store.ProjectStore.
func (s *Store) ListProjects(ctx context.Context, userID int64, opts store.ListOptions) (store.Page[store.Project], error) {
	db := s.reader(userID) // the replica unless this user just wrote
	const op = "listing projects"
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	after, dir := keyset(opts)
	query := `SELECT ` + projectColumns + ` FROM projects WHERE user_id = $1 AND deleted_at IS NULL`
	args := []any{userID, limitArg(opts)}
	if opts.After != "" {
		var (
			createdAt time.Time
			id        int64
		)
		err := db.QueryRow(qctx, `
SELECT created_at, id FROM projects
WHERE user_id = $1 AND public_id = $2`, userID, opts.After).Scan(&createdAt, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = store.ErrInvalidCursor
		}
		if err != nil {
			return store.Page[store.Project]{}, s.mapErr(ctx, op, err)
		}
		query += ` AND (created_at, id) ` + after + ` ($3, $4)`
		args = append(args, createdAt, id)
	}
	query += ` ORDER BY created_at ` + dir + `, id ` + dir + ` LIMIT $2`
	rows, err := db.Query(qctx, query, args...)
	if err != nil {
		return store.Page[store.Project]{}, s.mapErr(ctx, op, err)
	}
	page, err := collectPage(rows, opts, scanProject, (*store.Project).Size)
	if err != nil {
		return store.Page[store.Project]{}, s.mapErr(ctx, op, err)
	}
	return page, nil
}

// UpdateProject implements store.ProjectStore. Archiving a project that is
// already archived keeps its ArchivedAt.
func (s *Store) UpdateProject(ctx context.Context, userID int64, publicID string, patch store.ProjectPatch, now time.Time) (store.Project, error) {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	p, err := scanProject(s.pool.QueryRow(qctx, `
UPDATE projects SET
	name        = COALESCE($3, name),
	instruction = COALESCE($4, instruction),
	is_favorite = COALESCE($5, is_favorite),
	archived_at = CASE
		WHEN $6::boolean IS NULL THEN archived_at
		WHEN $6::boolean THEN COALESCE(archived_at, $7)
		END,
	updated_at  = $7
WHERE user_id = $1 AND public_id = $2 AND deleted_at IS NULL
RETURNING `+projectColumns,
		userID, publicID, patch.Name, patch.Instruction, patch.IsFavorite, patch.Archived, now))
	if err != nil {
		return store.Project{}, s.mapErr(ctx, "updating project", err)
	}
	return p, nil
}

// DeleteProject implements store.ProjectStore. The project's conversations
// are kept and leave the project, in the same transaction.
func (s *Store) DeleteProject(ctx context.Context, userID int64, publicID string, now time.Time) error {
	defer s.wrote(userID) // read your writes: see replica
	qctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err := pgx.BeginFunc(qctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(qctx, `
UPDATE projects SET deleted_at = $3, updated_at = $3
WHERE user_id = $1 AND public_id = $2 AND deleted_at IS NULL
RETURNING id`, userID, publicID, now).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(qctx, `UPDATE conversations SET project_id = NULL WHERE project_id = $1`, id)
		return err
	})
	return s.mapErr(ctx, "deleting project", err)
}
