// Package conversations serves the conversations and conversation items API
// (/v1/conversations…) in the shape of OpenAI's Conversations API, so the
// OpenAI SDKs work with it unchanged, plus the spec's title, project_id,
// archived and updated_at. It also exports the JSON form of conversations
// and items for the chat handler, which appends to conversations.
package conversations

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

// DefaultMaxBodyBytes bounds request bodies when Handler.MaxBodyBytes is
// zero. It is larger than httpx's default because up to 20 items with long
// texts or inline images may come in one request.
const DefaultMaxBodyBytes = 8 << 20

// Handler serves the conversation routes. Every route needs a principal in
// the request context (see handlers/principal) and only ever sees the
// principal's own conversations.
type Handler struct {
	// Store keeps the conversations and their items.
	Store store.Store
	// Logger receives failures the client cannot be told about. Nil logs
	// nothing.
	Logger *zap.Logger
	// MaxBodyBytes bounds request bodies; a larger one is answered with 413.
	// Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Register adds the conversation and item routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	rs := httpx.Routes{Resource: "conversation", Logger: h.Logger}
	mux.HandleFunc("GET /v1/conversations", rs.Handle(h.listConversations))
	mux.HandleFunc("POST /v1/conversations", rs.Handle(h.createConversation))
	mux.HandleFunc("GET /v1/conversations/{id}", rs.Handle(h.getConversation))
	mux.HandleFunc("POST /v1/conversations/{id}", rs.Handle(h.updateConversation))
	mux.HandleFunc("DELETE /v1/conversations/{id}", rs.Handle(h.deleteConversation))
	mux.HandleFunc("GET /v1/conversations/{id}/items", rs.Handle(h.listItems))
	mux.HandleFunc("POST /v1/conversations/{id}/items", rs.Handle(h.createItems))
	mux.HandleFunc("GET /v1/conversations/{id}/items/{item_id}", rs.Handle(h.getItem))
	mux.HandleFunc("DELETE /v1/conversations/{id}/items/{item_id}", rs.Handle(h.deleteItem))
}

func (h *Handler) maxBodyBytes() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}
