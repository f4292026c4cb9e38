package conversations

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

// conversationList is the answer of GET /v1/conversations: the list object
// plus the total number of the user's conversations.
type conversationList struct {
	httpx.List[Conversation]
	Total int `json:"total"`
}

func (h *Handler) listConversations(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	opts, aerr := httpx.ParseListOptions(r.URL.Query())
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	page, total, err := h.Store.ListConversations(r.Context(), p.UserID, opts)
	if err != nil {
		h.fail(w, r, err, "conversation")
		return
	}
	data := make([]Conversation, len(page.Items))
	for i, c := range page.Items {
		data[i] = ConversationJSON(c)
	}
	var first, last string
	if n := len(data); n > 0 {
		first, last = data[0].ID, data[n-1].ID
	}
	httpx.WriteJSON(w, http.StatusOK, conversationList{
		List:  httpx.NewList(data, first, last, page.HasMore),
		Total: total,
	})
}

type createConversationRequest struct {
	Title     string            `json:"title"`
	ProjectID string            `json:"project_id"`
	Metadata  map[string]string `json:"metadata"`
	Items     []itemInput       `json:"items"`
}

func (h *Handler) createConversation(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	var req createConversationRequest
	if aerr := httpx.DecodeJSON(w, r, h.maxBodyBytes(), &req); aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	title, aerr := validTitle(req.Title, "title")
	if aerr == nil {
		aerr = validateMetadata(req.Metadata)
	}
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	items, aerr := storeItems(req.Items, "items")
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	conv, _, err := h.Store.CreateConversation(r.Context(), store.Conversation{
		UserID:          p.UserID,
		Title:           title,
		ProjectPublicID: req.ProjectID,
		Metadata:        req.Metadata,
	}, items)
	if errors.Is(err, store.ErrNotFound) {
		// The only record a new conversation refers to is its project.
		apierr.Write(w, apierr.NotFound("project").WithParam("project_id"))
		return
	}
	if err != nil {
		h.fail(w, r, err, "conversation")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationJSON(conv))
}

func (h *Handler) getConversation(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	conv, err := h.Store.GetConversation(r.Context(), p.UserID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err, "conversation")
		return
	}
	page, err := h.Store.ListItems(r.Context(), p.UserID, conv.PublicID, store.ListOptions{Limit: httpx.DefaultLimit, Order: store.OrderAsc})
	if err != nil {
		h.fail(w, r, err, "conversation")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationWithItemsJSON(conv, page))
}

// updateConversationRequest is the body of POST /v1/conversations/{id}.
// metadata and project_id are kept raw to tell null (clear) from absent
// (keep).
type updateConversationRequest struct {
	Title     *string         `json:"title"`
	Archived  *bool           `json:"archived"`
	Metadata  json.RawMessage `json:"metadata"`
	ProjectID json.RawMessage `json:"project_id"`
}

var jsonNull = []byte("null")

// patch validates the request and returns the change it asks for.
func (req *updateConversationRequest) patch() (store.ConversationPatch, *apierr.Error) {
	var patch store.ConversationPatch
	if req.Title != nil {
		title, aerr := validTitle(*req.Title, "title")
		if aerr != nil {
			return patch, aerr
		}
		patch.Title = &title
	}
	patch.Archived = req.Archived
	switch {
	case len(req.Metadata) == 0:
	case bytes.Equal(req.Metadata, jsonNull):
		patch.Metadata = map[string]string{}
	default:
		if err := json.Unmarshal(req.Metadata, &patch.Metadata); err != nil {
			return patch, invalidType("metadata", "an object of strings")
		}
		if patch.Metadata == nil {
			patch.Metadata = map[string]string{}
		}
		if aerr := validateMetadata(patch.Metadata); aerr != nil {
			return patch, aerr
		}
	}
	switch {
	case len(req.ProjectID) == 0:
	case bytes.Equal(req.ProjectID, jsonNull):
		patch.ProjectPublicID = new("")
	default:
		var id string
		if err := json.Unmarshal(req.ProjectID, &id); err != nil {
			return patch, invalidType("project_id", "a string or null")
		}
		patch.ProjectPublicID = &id
	}
	return patch, nil
}

func emptyPatch(patch store.ConversationPatch) bool {
	return patch.Title == nil && patch.Archived == nil && patch.Metadata == nil && patch.ProjectPublicID == nil
}

func (h *Handler) updateConversation(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	var req updateConversationRequest
	if aerr := httpx.DecodeJSON(w, r, h.maxBodyBytes(), &req); aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	patch, aerr := req.patch()
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	if emptyPatch(patch) {
		// Nothing to change: answer like GET rather than touch updated_at.
		h.getConversation(w, r)
		return
	}
	if patch.ProjectPublicID != nil && *patch.ProjectPublicID != "" {
		// The store reports an unknown project and an unknown conversation
		// alike; look the project up first so the client learns which it is.
		if _, err := h.Store.GetProject(ctx, p.UserID, *patch.ProjectPublicID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				apierr.Write(w, apierr.NotFound("project").WithParam("project_id"))
				return
			}
			h.fail(w, r, err, "project")
			return
		}
	}
	conv, err := h.Store.UpdateConversation(ctx, p.UserID, id, patch, time.Now())
	if err != nil {
		h.fail(w, r, err, "conversation")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationJSON(conv))
}

func (h *Handler) deleteConversation(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	id := r.PathValue("id")
	if err := h.Store.DeleteConversation(r.Context(), p.UserID, id); err != nil {
		h.fail(w, r, err, "conversation")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Deleted{ID: id, Object: "conversation.deleted", Deleted: true})
}
