package store

import "context"

// TurnStart is what a chat turn on an existing conversation writes before
// the upstream call.
type TurnStart struct {
	// Write is false for a turn that is not stored: nothing is written,
	// the conversation is only read.
	Write bool
	// User is appended when Write; nil appends nothing.
	User *Item
	// Title becomes the conversation's title when Write and it has none;
	// empty sets none.
	Title string
}

// TurnContext is what a chat turn reads before the upstream call.
type TurnContext struct {
	// Conversation is the conversation as it is after the turn's writes.
	Conversation Conversation
	// Instruction is the instruction of the conversation's project; empty
	// when it has none, or its project is deleted.
	Instruction string
	// Settings are the user's stored settings; HasSettings is false when
	// none are stored.
	Settings    UserSettings
	HasSettings bool
}

// TurnStore starts a chat turn in one go: a store that implements it saves
// the several queries the turn would otherwise take (PostgreSQL: one round
// trip and one commit instead of up to five).
type TurnStore interface {
	// StartTurn checks that the conversation is the user's (ErrNotFound,
	// nothing written, when not), appends t.User and sets t.Title if the
	// conversation is untitled (both when t.Write, atomically), and reads
	// the conversation, its project's instruction and the user's settings.
	StartTurn(ctx context.Context, userID int64, convPublicID string, t TurnStart) (TurnContext, error)
}
