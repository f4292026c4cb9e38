package conversations

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
)

func (h *Handler) listItems(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	opts, aerr := httpx.ParseListOptions(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	page, err := h.Store.ListItems(r.Context(), p.UserID, r.PathValue("id"), opts)
	if err != nil {
		return err
	}
	writeItemList(w, ItemsJSON(page.Items), page.HasMore)
	return nil
}

func writeItemList(w http.ResponseWriter, data []Item, hasMore bool) {
	httpx.WriteJSON(w, http.StatusOK, httpx.NewPage(data, func(it Item) string { return it.ID }, hasMore))
}

// createItems appends items given as {"items": […]} (OpenAI's form) or as
// one bare item object, and answers the list object of the new items.
func (h *Handler) createItems(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	body, aerr := httpx.ReadBody(w, r, h.maxBodyBytes())
	if aerr != nil {
		return aerr
	}
	ins, param, aerr := decodeItemsRequest(body)
	if aerr != nil {
		return aerr
	}
	items, aerr := storeItems(ins, param)
	if aerr != nil {
		return aerr
	}
	created, err := h.Store.AppendItems(r.Context(), p.UserID, r.PathValue("id"), items)
	if err != nil {
		return err
	}
	writeItemList(w, ItemsJSON(created), false)
	return nil
}

// decodeItemsRequest reads the items of an append request, given either as
// {"items": […]} or as a single item object. It returns the items and the
// name errors about them start with: "items", or "" for a bare item.
func decodeItemsRequest(body []byte) ([]itemInput, string, *apierr.Error) {
	var wrapper struct {
		Items json.RawMessage `json:"items"`
	}
	if aerr := httpx.Unmarshal(body, &wrapper); aerr != nil {
		return nil, "", aerr
	}
	if len(wrapper.Items) > 0 && !bytes.Equal(wrapper.Items, jsonNull) {
		var ins []itemInput
		if err := json.Unmarshal(wrapper.Items, &ins); err != nil {
			if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
				te.Field = "items." + te.Field // the path starts inside the array
				return nil, "", httpx.JSONError(te)
			}
			return nil, "", invalidType("items", "an array of items")
		}
		if len(ins) == 0 {
			return nil, "", apierr.Invalid("items", "invalid_value", "items must not be empty")
		}
		return ins, "items", nil
	}
	var single itemInput
	if aerr := httpx.Unmarshal(body, &single); aerr != nil {
		return nil, "", aerr
	}
	if single.isZero() {
		return nil, "", apierr.Invalid("items", "missing_required_parameter", "items is required")
	}
	return []itemInput{single}, "", nil
}

func (h *Handler) getItem(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	it, err := h.Store.GetItem(r.Context(), p.UserID, r.PathValue("id"), r.PathValue("item_id"))
	if err != nil {
		return httpx.About("item", err)
	}
	httpx.WriteJSON(w, http.StatusOK, ItemJSON(it))
	return nil
}

// deleteItem deletes one item and answers the conversation, as OpenAI does.
func (h *Handler) deleteItem(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	ctx, convID := r.Context(), r.PathValue("id")
	if err := h.Store.DeleteItem(ctx, p.UserID, convID, r.PathValue("item_id")); err != nil {
		return httpx.About("item", err)
	}
	conv, err := h.Store.GetConversation(ctx, p.UserID, convID)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, ConversationJSON(conv))
	return nil
}
