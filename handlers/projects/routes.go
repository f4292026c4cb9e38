package projects

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

func (h *Handler) list(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	opts, aerr := httpx.ParseListOptions(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	page, err := h.Store.ListProjects(r.Context(), p.UserID, opts)
	if err != nil {
		return err
	}
	data := make([]Project, len(page.Items))
	for i, proj := range page.Items {
		data[i] = ProjectJSON(proj)
	}
	list := projectList{List: httpx.NewPage(data, func(p Project) string { return p.ID }, page.HasMore)}
	if page.HasMore {
		list.NextCursor = list.LastID
	}
	httpx.WriteJSON(w, http.StatusOK, list)
	return nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	var req projectRequest
	if aerr := httpx.DecodeJSON(w, r, h.MaxBodyBytes, &req); aerr != nil {
		return aerr
	}
	if req.Name == nil {
		return apierr.Invalid("name", "missing_required_parameter", "name is required")
	}
	name, aerr := validName(*req.Name)
	if aerr != nil {
		return aerr
	}
	archived, aerr := req.archived()
	if aerr == nil {
		aerr = validInstruction(req.Instruction)
	}
	if aerr != nil {
		return aerr
	}
	proj := store.Project{UserID: p.UserID, Name: name}
	if req.Instruction != nil {
		proj.Instruction = *req.Instruction
	}
	if req.IsFavorite != nil {
		proj.IsFavorite = *req.IsFavorite
	}
	if archived != nil && *archived {
		proj.Archived = true
		proj.ArchivedAt = new(time.Now())
	}
	created, err := h.Store.CreateProject(r.Context(), proj)
	if err != nil {
		return nameConflict(err)
	}
	httpx.WriteJSON(w, http.StatusCreated, ProjectJSON(created))
	return nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	proj, err := h.Store.GetProject(r.Context(), p.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ProjectJSON(proj))
	return nil
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	var req projectRequest
	if aerr := httpx.DecodeJSON(w, r, h.MaxBodyBytes, &req); aerr != nil {
		return aerr
	}
	var patch store.ProjectPatch
	if req.Name != nil {
		name, aerr := validName(*req.Name)
		if aerr != nil {
			return aerr
		}
		patch.Name = &name
	}
	archived, aerr := req.archived()
	if aerr == nil {
		aerr = validInstruction(req.Instruction)
	}
	if aerr != nil {
		return aerr
	}
	patch.Instruction, patch.IsFavorite, patch.Archived = req.Instruction, req.IsFavorite, archived
	if patch == (store.ProjectPatch{}) {
		// Nothing to change: answer like GET rather than touch updated_at.
		return h.get(w, r, p)
	}
	proj, err := h.Store.UpdateProject(r.Context(), p.UserID, r.PathValue("id"), patch, time.Now())
	if err != nil {
		return nameConflict(err)
	}
	httpx.WriteJSON(w, http.StatusOK, ProjectJSON(proj))
	return nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id := r.PathValue("id")
	if err := h.Store.DeleteProject(r.Context(), p.UserID, id, time.Now()); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Deleted{ID: id, Object: "project.deleted", Deleted: true})
	return nil
}

// nameConflict returns the error of a project write: a conflict is one of
// names, and names the parameter at fault.
func nameConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return apierr.New(http.StatusConflict, "conflict",
			"a project with this name already exists").WithParam("name")
	}
	return err
}
