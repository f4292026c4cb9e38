package conversation

import (
	"context"
	"errors"

	"github.com/caddy-llm/gateway/store"
)

// Base styles of profile_settings.base_style.
const (
	StyleConcise      = "Concise"
	StyleFriendly     = "Friendly"
	StyleProfessional = "Professional"
)

// DefaultSettings returns the settings of a user who has stored none, as the
// spec gives them. Each call returns a new value (with its own Preferences
// map).
func DefaultSettings() store.UserSettings {
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

// LoadSettings returns the user's stored settings, or DefaultSettings (with
// UserID set) when the user has stored none.
func LoadSettings(ctx context.Context, st store.SettingsStore, userID int64) (store.UserSettings, error) {
	s, err := st.GetSettings(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		s = DefaultSettings()
		s.UserID = userID
		return s, nil
	}
	if err != nil {
		return store.UserSettings{}, err
	}
	return s, nil
}
