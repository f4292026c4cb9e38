package projects

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	opts, aerr := httpx.ParseListOptions(r.URL.Query())
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	page, err := h.Store.ListProjects(r.Context(), p.UserID, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := make([]Project, len(page.Items))
	for i, proj := range page.Items {
		data[i] = ProjectJSON(proj)
	}
	var first, last string
	if n := len(data); n > 0 {
		first, last = data[0].ID, data[n-1].ID
	}
	list := projectList{List: httpx.NewList(data, first, last, page.HasMore)}
	if page.HasMore {
		list.NextCursor = list.LastID
	}
	httpx.WriteJSON(w, http.StatusOK, list)
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	var req projectRequest
	if aerr := httpx.DecodeJSON(w, r, h.MaxBodyBytes, &req); aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	if req.Name == nil {
		apierr.Write(w, apierr.Invalid("name", "missing_required_parameter", "name is required"))
		return
	}
	name, aerr := validName(*req.Name)
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	archived, aerr := req.archived()
	if aerr == nil {
		aerr = validInstruction(req.Instruction)
	}
	if aerr != nil {
		apierr.Write(w, aerr)
		return
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
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, ProjectJSON(created))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	proj, err := h.Store.GetProject(r.Context(), p.UserID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ProjectJSON(proj))
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	var req projectRequest
	if aerr := httpx.DecodeJSON(w, r, h.MaxBodyBytes, &req); aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	var patch store.ProjectPatch
	if req.Name != nil {
		name, aerr := validName(*req.Name)
		if aerr != nil {
			apierr.Write(w, aerr)
			return
		}
		patch.Name = &name
	}
	archived, aerr := req.archived()
	if aerr == nil {
		aerr = validInstruction(req.Instruction)
	}
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	patch.Instruction, patch.IsFavorite, patch.Archived = req.Instruction, req.IsFavorite, archived
	if patch == (store.ProjectPatch{}) {
		// Nothing to change: answer like GET rather than touch updated_at.
		h.get(w, r)
		return
	}
	proj, err := h.Store.UpdateProject(r.Context(), p.UserID, r.PathValue("id"), patch, time.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ProjectJSON(proj))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	id := r.PathValue("id")
	if err := h.Store.DeleteProject(r.Context(), p.UserID, id, time.Now()); err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Deleted{ID: id, Object: "project.deleted", Deleted: true})
}

// fail writes the error of a project operation; a name conflict names the
// parameter at fault.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrConflict) {
		apierr.Write(w, apierr.New(http.StatusConflict, "conflict",
			"a project with this name already exists").WithParam("name"))
		return
	}
	httpx.WriteError(w, r, h.Logger, err, "project")
}
