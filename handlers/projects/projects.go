// Package projects serves the projects API (/v1/projects…): projects group a
// user's conversations and carry an instruction for them. Deleting a project
// is a soft delete; afterwards the project is gone for every route and its
// name is free again.
package projects

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

// Handler serves the project routes. Every route needs a principal in the
// request context (see handlers/principal) and only ever sees the
// principal's own projects.
type Handler struct {
	// Store keeps the projects.
	Store store.Store
	// Logger receives failures the client cannot be told about. Nil logs
	// nothing.
	Logger *zap.Logger
	// MaxBodyBytes bounds request bodies; a larger one is answered with 413.
	// Zero means httpx.DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Register adds the project routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	rs := httpx.Routes{Resource: "project", Logger: h.Logger}
	mux.HandleFunc("GET /v1/projects", rs.Handle(h.list))
	mux.HandleFunc("POST /v1/projects", rs.Handle(h.create))
	mux.HandleFunc("GET /v1/projects/{id}", rs.Handle(h.get))
	mux.HandleFunc("PATCH /v1/projects/{id}", rs.Handle(h.update))
	mux.HandleFunc("DELETE /v1/projects/{id}", rs.Handle(h.delete))
}

// Project is a project as the API shows it. archived is also written as
// is_archived, the name Jan's clients read.
type Project struct {
	ID          string `json:"id"`
	Object      string `json:"object"` // always "project"
	Name        string `json:"name"`
	Instruction string `json:"instruction"`
	IsFavorite  bool   `json:"is_favorite"`
	Archived    bool   `json:"archived"`
	IsArchived  bool   `json:"is_archived"`
	ArchivedAt  *int64 `json:"archived_at"` // unix seconds; null unless archived
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

// ProjectJSON converts a stored project to its API form.
func ProjectJSON(p store.Project) Project {
	out := Project{
		ID:          p.PublicID,
		Object:      "project",
		Name:        p.Name,
		Instruction: p.Instruction,
		IsFavorite:  p.IsFavorite,
		Archived:    p.Archived,
		IsArchived:  p.Archived,
		CreatedAt:   p.CreatedAt.Unix(),
		UpdatedAt:   p.UpdatedAt.Unix(),
	}
	if p.Archived && p.ArchivedAt != nil {
		out.ArchivedAt = new(p.ArchivedAt.Unix())
	}
	return out
}

// projectList is the answer of GET /v1/projects: the list object plus
// next_cursor (the last id when there is a next page, else null) for Jan's
// clients, which page with ?cursor=.
type projectList struct {
	httpx.List[Project]
	NextCursor *string `json:"next_cursor"`
}
