// Package settings serves the current user's settings
// (/v1/users/me/settings): GET answers the stored settings or the spec's
// defaults, PATCH changes only the fields it is given. It also exports the
// defaults and Load, for handlers that act on a user's settings.
package settings

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/store"
)

// Base styles of profile_settings.base_style.
const (
	StyleConcise      = "Concise"
	StyleFriendly     = "Friendly"
	StyleProfessional = "Professional"
)

// Defaults returns the settings of a user who has stored none, as the spec
// gives them. Each call returns a new value (with its own Preferences map).
func Defaults() store.UserSettings {
	return store.UserSettings{
		MemoryConfig: store.MemoryConfig{
			Enabled:          true,
			ObserveEnabled:   true,
			InjectUserCore:   true,
			InjectSemantic:   true,
			InjectEpisodic:   false,
			MaxUserItems:     3,
			MaxProjectItems:  5,
			MaxEpisodicItems: 3,
			MinSimilarity:    0.75,
		},
		ProfileSettings: store.ProfileSettings{BaseStyle: StyleFriendly},
		AdvancedSettings: store.AdvancedSettings{
			WebSearch:   false,
			CodeEnabled: false,
		},
		EnableTrace: false,
		EnableTools: true,
		Preferences: map[string]any{},
	}
}

// Load returns the user's stored settings, or Defaults (with UserID set)
// when the user has stored none.
func Load(ctx context.Context, st store.SettingsStore, userID int64) (store.UserSettings, error) {
	s, err := st.GetSettings(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		s = Defaults()
		s.UserID = userID
		return s, nil
	}
	if err != nil {
		return store.UserSettings{}, err
	}
	return s, nil
}

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
	s, err := Load(r.Context(), h.Store, p.UserID)
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
	defaults := Defaults()
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
