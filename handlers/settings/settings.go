// Package settings serves the current user's settings
// (/v1/users/me/settings): GET answers the stored settings or the spec's
// defaults, PATCH changes only the fields it is given. It is an adapter:
// the defaults, the base styles and the loading of a user's settings are
// domain rules of handlers/conversation.
package settings

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

// Settings is the API form of a user's settings, exactly the spec's shape.
type Settings struct {
	ID               int64                  `json:"id"`
	UserID           int64                  `json:"user_id"`
	MemoryConfig     store.MemoryConfig     `json:"memory_config"`
	ProfileSettings  store.ProfileSettings  `json:"profile_settings"`
	AdvancedSettings store.AdvancedSettings `json:"advanced_settings"`
	EnableTrace      bool                   `json:"enable_trace"`
	EnableTools      bool                   `json:"enable_tools"`
	Preferences      map[string]any         `json:"preferences"`
}

// SettingsJSON converts settings to their API form.
func SettingsJSON(s store.UserSettings) Settings {
	out := Settings{
		ID:               s.ID,
		UserID:           s.UserID,
		MemoryConfig:     s.MemoryConfig,
		ProfileSettings:  s.ProfileSettings,
		AdvancedSettings: s.AdvancedSettings,
		EnableTrace:      s.EnableTrace,
		EnableTools:      s.EnableTools,
		Preferences:      s.Preferences,
	}
	if out.Preferences == nil {
		out.Preferences = map[string]any{}
	}
	return out
}

// Handler serves the settings routes for the principal of the request.
type Handler struct {
	// Store keeps the settings.
	Store store.Store
	// Logger receives failures the client cannot be told about. Nil logs
	// nothing.
	Logger *zap.Logger
	// MaxBodyBytes bounds request bodies; a larger one is answered with 413.
	// Zero means httpx.DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Register adds GET and PATCH /v1/users/me/settings to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/users/me/settings", h.get)
	mux.HandleFunc("PATCH /v1/users/me/settings", h.patch)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	s, err := conversation.LoadSettings(r.Context(), h.Store, p.UserID)
	if err != nil {
		httpx.WriteError(w, r, h.Logger, err, "settings")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, SettingsJSON(s))
}

func (h *Handler) patch(w http.ResponseWriter, r *http.Request) {
	p := httpx.RequirePrincipal(w, r)
	if p == nil {
		return
	}
	body, aerr := httpx.ReadBody(w, r, h.MaxBodyBytes)
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	changes, aerr := parsePatch(body)
	if aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	if len(changes) == 0 {
		h.get(w, r)
		return
	}
	defaults := conversation.DefaultSettings()
	defaults.UserID = p.UserID
	s, err := h.Store.UpdateSettings(r.Context(), p.UserID, defaults, func(s *store.UserSettings) error {
		for _, change := range changes {
			if aerr := change(s); aerr != nil {
				return aerr
			}
		}
		return nil
	})
	if err != nil {
		httpx.WriteError(w, r, h.Logger, err, "settings")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, SettingsJSON(s))
}
