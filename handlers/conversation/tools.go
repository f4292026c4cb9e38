package conversation

import (
	"context"

	"github.com/caddy-llm/gateway/store"
)

// ToolPolicy reads the enable_tools setting for the chat handler (its
// Tools): a user who turned it off has tools, tool_choice and
// parallel_tool_calls removed from their chat requests before they go
// upstream. Users who stored no settings have the spec's default, tools on.
type ToolPolicy struct {
	Store store.SettingsStore
}

// ToolsEnabled reports the user's enable_tools setting.
func (t ToolPolicy) ToolsEnabled(ctx context.Context, userID int64) (bool, error) {
	s, err := LoadSettings(ctx, t.Store, userID)
	if err != nil {
		return true, err
	}
	return s.EnableTools, nil
}
