package memory

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
)

// MaxTextLength is the longest memory item, in characters after trimming:
// items are facts, and each recalled one is sent with a turn.
const MaxTextLength = 2000

// APIHandler serves a user's memory:
//
//	GET    /v1/memories          list (?kind=user|project|episodic, ?project_id=, limit, after, order)
//	POST   /v1/memories          add a fact: {"text", "kind" (default user), "project_id" (kind project)}
//	GET    /v1/memories/{id}     one item
//	PATCH  /v1/memories/{id}     change its text: {"text"}
//	DELETE /v1/memories/{id}     forget it
//	DELETE /v1/memories          forget everything
//
// Every route sees only the caller's own items: another user's id is a
// 404.
type APIHandler struct {
	// Store keeps the items. Required.
	Store store.Store
	// Memory embeds added and changed texts; nil (or a service without an
	// embedding model) stores them without a vector, so they are listed but
	// never recalled.
	Memory *Service
	// Logger receives failures the client cannot be told about.
	Logger *zap.Logger
	// MaxBodyBytes bounds request bodies. Zero means
	// httpx.DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Register adds the routes to mux.
func (h *APIHandler) Register(mux *http.ServeMux) {
	rs := httpx.Routes{Resource: "memory", Logger: h.Logger}
	mux.HandleFunc("GET /v1/memories", rs.Handle(h.list))
	mux.HandleFunc("POST /v1/memories", rs.Handle(h.create))
	mux.HandleFunc("DELETE /v1/memories", rs.Handle(h.deleteAll))
	mux.HandleFunc("GET /v1/memories/{id}", rs.Handle(h.get))
	mux.HandleFunc("PATCH /v1/memories/{id}", rs.Handle(h.update))
	mux.HandleFunc("DELETE /v1/memories/{id}", rs.Handle(h.delete))
}

// Item is a memory item as the API shows it.
type Item struct {
	ID             string  `json:"id"`
	Object         string  `json:"object"` // always "memory"
	Kind           string  `json:"kind"`
	Text           string  `json:"text"`
	ProjectID      *string `json:"project_id"`
	ConversationID *string `json:"conversation_id"`
	Source         string  `json:"source"`
	// Embedded reports whether the item has a vector: only such items
	// are recalled.
	Embedded  bool  `json:"embedded"`
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"`
}

// ItemJSON converts a stored item to its API form.
func ItemJSON(it store.MemoryItem) Item {
	out := Item{
		ID: it.PublicID, Object: "memory", Kind: it.Kind, Text: it.Text, Source: it.Source,
		Embedded:  it.EmbeddingModel != "",
		CreatedAt: it.CreatedAt.Unix(), UpdatedAt: it.UpdatedAt.Unix(),
	}
	if it.ProjectPublicID != "" {
		out.ProjectID = new(it.ProjectPublicID)
	}
	if it.ConversationPublicID != "" {
		out.ConversationID = new(it.ConversationPublicID)
	}
	return out
}

func (h *APIHandler) list(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	q := r.URL.Query()
	opts, aerr := httpx.ParseListOptions(q)
	if aerr != nil {
		return aerr
	}
	f := store.MemoryFilter{Kind: q.Get("kind"), ProjectPublicID: q.Get("project_id")}
	if f.Kind != "" && !validKind(f.Kind) {
		return apierr.Invalid("kind", "invalid_value", "kind must be 'user', 'project' or 'episodic'")
	}
	if len(f.ProjectPublicID) > maxIDLength || strings.ContainsRune(f.ProjectPublicID, 0) {
		return apierr.Invalid("project_id", "invalid_value", "project_id is not a project id")
	}
	page, err := h.Store.ListMemoryItems(r.Context(), p.UserID, f, opts)
	if err != nil {
		return err
	}
	data := make([]Item, len(page.Items))
	for i, it := range page.Items {
		data[i] = ItemJSON(it)
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.NewPage(data, func(it Item) string { return it.ID }, page.HasMore))
	return nil
}

// itemRequest is the body of POST and PATCH; absent fields stay nil.
type itemRequest struct {
	Text      *string `json:"text"`
	Kind      *string `json:"kind"`
	ProjectID *string `json:"project_id"`
}

// maxIDLength bounds the ids a client names (public ids have 37 or 38
// characters).
const maxIDLength = 128

// itemID returns the {id} of the route, or a 404 for one that cannot name
// a memory item (so that every store answers alike, whatever bytes it is
// given).
func itemID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, store.PrefixMemory+"_") || len(id) > maxIDLength || strings.ContainsRune(id, 0) || !utf8.ValidString(id) {
		return "", apierr.NotFound("memory")
	}
	return id, nil
}

func validKind(k string) bool {
	return k == store.MemoryKindUser || k == store.MemoryKindProject || k == store.MemoryKindEpisodic
}

// validText trims a text and checks its length.
func validText(text *string) (string, *apierr.Error) {
	if text == nil {
		return "", apierr.Invalid("text", "missing_required_parameter", "text is required")
	}
	t := strings.TrimSpace(*text)
	if n := utf8.RuneCountInString(t); n < 1 || n > MaxTextLength {
		return "", apierr.Invalid("text", "invalid_value", "text must be 1 to "+strconv.Itoa(MaxTextLength)+" characters long")
	}
	return t, nil
}

func (h *APIHandler) create(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	var req itemRequest
	if aerr := httpx.DecodeJSON(w, r, h.MaxBodyBytes, &req); aerr != nil {
		return aerr
	}
	text, aerr := validText(req.Text)
	if aerr != nil {
		return aerr
	}
	it := store.MemoryItem{UserID: p.UserID, Kind: store.MemoryKindUser, Text: text, Source: store.MemorySourceManual}
	if req.Kind != nil {
		if !validKind(*req.Kind) {
			return apierr.Invalid("kind", "invalid_value", "kind must be 'user', 'project' or 'episodic'")
		}
		it.Kind = *req.Kind
	}
	switch {
	case it.Kind == store.MemoryKindProject && (req.ProjectID == nil || *req.ProjectID == ""):
		return apierr.Invalid("project_id", "missing_required_parameter", "a project fact needs project_id")
	case it.Kind != store.MemoryKindProject && req.ProjectID != nil:
		return apierr.Invalid("project_id", "invalid_value", "only a project fact has a project_id")
	case it.Kind == store.MemoryKindProject:
		proj, err := h.Store.GetProject(r.Context(), p.UserID, *req.ProjectID)
		if errors.Is(err, store.ErrNotFound) {
			return apierr.NotFound("project").WithParam("project_id")
		}
		if err != nil {
			return err
		}
		it.ProjectPublicID = proj.PublicID
	}
	if err := h.embed(r.Context(), &it.Embedding, &it.EmbeddingModel, text); err != nil {
		return err
	}
	created, err := h.Store.CreateMemoryItem(r.Context(), it, h.maxItems())
	if errors.Is(err, store.ErrLimitReached) {
		return apierr.New(http.StatusConflict, "memory_full",
			"the memory holds "+strconv.Itoa(h.maxItems())+" items, its most; delete some first")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, ItemJSON(created))
	return nil
}

func (h *APIHandler) maxItems() int {
	if h.Memory != nil {
		return h.Memory.MaxItemsPerUser()
	}
	return DefaultMaxItemsPerUser
}

// embed sets the vector of text when memory is on. An upstream failure is
// answered as chat answers it: nothing is stored, and the client may retry.
func (h *APIHandler) embed(ctx context.Context, vec *[]float32, model *string, text string) error {
	if !h.Memory.Enabled() {
		return nil
	}
	vecs, err := h.Memory.embed(ctx, []string{text})
	if errors.Is(err, errNoEmbedModel) {
		return nil // stored without a vector
	}
	if err != nil {
		perr := provider.AsError(ctx, err)
		if h.Logger != nil && perr.Kind != provider.KindCanceled {
			h.Logger.Warn("embedding a memory item failed", zap.String("kind", perr.Kind.String()), zap.Error(perr.Err))
		}
		return perr.APIError()
	}
	*vec, *model = vecs[0], h.Memory.cfg.EmbedModel
	return nil
}

func (h *APIHandler) get(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id, err := itemID(r)
	if err != nil {
		return err
	}
	it, err := h.Store.GetMemoryItem(r.Context(), p.UserID, id)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ItemJSON(it))
	return nil
}

func (h *APIHandler) update(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	var req itemRequest
	if aerr := httpx.DecodeJSON(w, r, h.MaxBodyBytes, &req); aerr != nil {
		return aerr
	}
	if req.Kind != nil || req.ProjectID != nil {
		return apierr.Invalid("text", "invalid_value", "only text can be changed; add a new item for another kind or project")
	}
	text, aerr := validText(req.Text)
	if aerr != nil {
		return aerr
	}
	// The item must be the caller's before anything is embedded.
	id, err := itemID(r)
	if err != nil {
		return err
	}
	if _, err := h.Store.GetMemoryItem(r.Context(), p.UserID, id); err != nil {
		return err
	}
	patch := store.MemoryPatch{Text: &text, EmbeddingModel: new("")}
	if err := h.embed(r.Context(), &patch.Embedding, patch.EmbeddingModel, text); err != nil {
		return err
	}
	it, err := h.Store.UpdateMemoryItem(r.Context(), p.UserID, id, patch, time.Now())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ItemJSON(it))
	return nil
}

func (h *APIHandler) delete(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id, err := itemID(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteMemoryItem(r.Context(), p.UserID, id); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Deleted{ID: id, Object: "memory.deleted", Deleted: true})
	return nil
}

// deletedAll is the answer of DELETE /v1/memories.
type deletedAll struct {
	Object  string `json:"object"` // "memory.deleted"
	Deleted bool   `json:"deleted"`
	Count   int64  `json:"count"`
}

func (h *APIHandler) deleteAll(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	n, err := h.Store.DeleteMemoryItems(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, deletedAll{Object: "memory.deleted", Deleted: true, Count: n})
	return nil
}
