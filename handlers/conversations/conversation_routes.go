package conversations

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// conversationList is the answer of GET /v1/conversations: the list object
// plus the total number of the user's conversations.
type conversationList struct {
	httpx.List[Conversation]
	Total int `json:"total"`
}

func (h *Handler) listConversations(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	opts, aerr := httpx.ParseListOptions(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	page, total, err := h.Store.ListConversations(r.Context(), p.UserID, opts)
	if err != nil {
		return err
	}
	data := make([]Conversation, len(page.Items))
	for i, c := range page.Items {
		data[i] = ConversationJSON(c)
	}
	httpx.WriteJSON(w, http.StatusOK, conversationList{
		List:  httpx.NewPage(data, func(c Conversation) string { return c.ID }, page.HasMore),
		Total: total,
	})
	return nil
}

type createConversationRequest struct {
	Title     string            `json:"title"`
	ProjectID string            `json:"project_id"`
	Metadata  map[string]string `json:"metadata"`
	Items     []itemInput       `json:"items"`
}

func (h *Handler) createConversation(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	var req createConversationRequest
	if aerr := httpx.DecodeJSON(w, r, h.maxBodyBytes(), &req); aerr != nil {
		return aerr
	}
	title, aerr := validTitle(req.Title, "title")
	if aerr == nil {
		aerr = validateMetadata(req.Metadata)
	}
	if aerr != nil {
		return aerr
	}
	items, aerr := storeItems(req.Items, "items")
	if aerr != nil {
		return aerr
	}
	conv, _, err := h.Store.CreateConversation(r.Context(), store.Conversation{
		UserID:          p.UserID,
		Title:           title,
		ProjectPublicID: req.ProjectID,
		Metadata:        req.Metadata,
	}, items)
	if errors.Is(err, store.ErrNotFound) {
		// The only record a new conversation refers to is its project.
		return apierr.NotFound("project").WithParam("project_id")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationJSON(conv))
	return nil
}

func (h *Handler) getConversation(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	conv, err := h.Store.GetConversation(r.Context(), p.UserID, r.PathValue("id"))
	if err != nil {
		return err
	}
	page, err := h.Store.ListItems(r.Context(), p.UserID, conv.PublicID, store.ListOptions{Limit: httpx.DefaultLimit, Order: store.OrderAsc})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationWithItemsJSON(conv, page))
	return nil
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

func (h *Handler) updateConversation(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	var req updateConversationRequest
	if aerr := httpx.DecodeJSON(w, r, h.maxBodyBytes(), &req); aerr != nil {
		return aerr
	}
	patch, aerr := req.patch()
	if aerr != nil {
		return aerr
	}
	ctx, id := r.Context(), r.PathValue("id")
	if emptyPatch(patch) {
		// Nothing to change: answer like GET rather than touch updated_at.
		return h.getConversation(w, r, p)
	}
	if patch.ProjectPublicID != nil && *patch.ProjectPublicID != "" {
		// The store reports an unknown project and an unknown conversation
		// alike; look the project up first so the client learns which it is.
		if _, err := h.Store.GetProject(ctx, p.UserID, *patch.ProjectPublicID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return apierr.NotFound("project").WithParam("project_id")
			}
			return httpx.About("project", err)
		}
	}
	conv, err := h.Store.UpdateConversation(ctx, p.UserID, id, patch, time.Now())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationJSON(conv))
	return nil
}

func (h *Handler) deleteConversation(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id := r.PathValue("id")
	if err := h.Store.DeleteConversation(r.Context(), p.UserID, id); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Deleted{ID: id, Object: "conversation.deleted", Deleted: true})
	return nil
}
