package responses

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// get answers GET /v1/responses/{id}: the stored Response object.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id, err := responseID(r)
	if err != nil {
		return err
	}
	rec, err := h.Store.GetResponse(r.Context(), p.UserID, id)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(rec.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rec.Body)
	return nil
}

// delete answers DELETE /v1/responses/{id}. The items the response
// appended to a conversation stay there: they are the conversation's.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	id, err := responseID(r)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteResponse(r.Context(), p.UserID, id); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Deleted{ID: id, Object: "response.deleted", Deleted: true})
	return nil
}

// inputItems answers GET /v1/responses/{id}/input_items: the request's
// input items, paginated like a conversation's items (limit, after, order;
// newest first by default).
func (h *Handler) inputItems(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	opts, aerr := httpx.ParseListOptions(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	id, err := responseID(r)
	if err != nil {
		return err
	}
	rec, err := h.Store.GetResponse(r.Context(), p.UserID, id)
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(rec.Input, &items); err != nil {
		return fmt.Errorf("reading the input items of %s: %w", rec.PublicID, err)
	}
	ids := make([]string, len(items))
	for i, raw := range items {
		var it struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &it)
		ids[i] = it.ID
	}
	if opts.Order != store.OrderAsc {
		slices.Reverse(items)
		slices.Reverse(ids)
	}
	start := 0
	if opts.After != "" {
		i := slices.Index(ids, opts.After)
		if i < 0 {
			return httpx.StoreError(store.ErrInvalidCursor, "")
		}
		start = i + 1
	}
	end := min(start+opts.Limit, len(items))
	page := items[start:end]
	var first, last string
	if len(page) > 0 {
		first, last = ids[start], ids[end-1]
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.NewList(page, first, last, end < len(items)))
	return nil
}

// responseID returns the {id} of the route, or a 404 for one that cannot
// name a response (a NUL, invalid UTF-8, no resp_ prefix, too long):
// PostgreSQL would refuse such bytes with a 400 where the in-memory store
// finds nothing, and every store must answer alike.
func responseID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, store.PrefixResponse+"_") || len(id) > MaxIDLength ||
		strings.ContainsRune(id, 0) || !utf8.ValidString(id) {
		return "", apierr.NotFound("response")
	}
	return id, nil
}
