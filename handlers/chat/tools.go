package chat

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/principal"
)

// ToolPolicy says whether a user allows tools in their requests: the
// enable_tools setting of /v1/users/me/settings.
type ToolPolicy interface {
	ToolsEnabled(ctx context.Context, userID int64) (bool, error)
}

// toolsEnabled reports whether the principal's requests may offer tools.
// When the settings cannot be read (the database is down), tools stay on:
// chat keeps working without the database, and a user who turned tools off
// gets them for the length of the outage (logged).
func (h *Handler) toolsEnabled(r *http.Request, p *principal.Principal) bool {
	if h.Tools == nil {
		return true
	}
	on, err := h.Tools.ToolsEnabled(r.Context(), p.UserID)
	if err != nil {
		if r.Context().Err() == nil {
			h.logger().Warn("reading enable_tools failed; sending the request's tools", zap.Error(err))
		}
		return true
	}
	return on
}
