package conversation

import (
	"context"
	"strings"

	"github.com/caddy-llm/gateway/store"
)

// Memory is what a Recorder asks of the memory feature (handlers/memory):
// to recall what it knows for a turn, and to learn from a finished one.
// A Recorder without Memory, and a user whose memory_config is not
// enabled, pay nothing for it.
type Memory interface {
	// Recall returns the system message of what the user's memory holds
	// for the turn ("" for nothing). It is called before the upstream
	// call, only when the user's memory is enabled and the turn has a user
	// message with text. It never fails the turn: an upstream or store
	// failure is the implementation's to log, and gives "".
	Recall(ctx context.Context, q RecallQuery) string
	// Observe hands a finished, stored turn to be learnt from in the
	// background. It never blocks.
	Observe(o Observation)
}

// RecallQuery is what Memory.Recall is asked.
type RecallQuery struct {
	UserID int64
	// ConversationPublicID and ProjectPublicID are the turn's conversation
	// and its project (empty when in none).
	ConversationPublicID string
	ProjectPublicID      string
	// Text is the new user message's text.
	Text string
	// Config is the user's memory settings.
	Config store.MemoryConfig
}

// Observation is a finished turn for Memory.Observe.
type Observation struct {
	UserID               int64
	ConversationPublicID string
	ProjectPublicID      string
	// User and Assistant are the texts of the turn's user message and of
	// the assistant's reply.
	User, Assistant string
}

// ItemText returns the text parts of an item joined by newlines.
func ItemText(it *store.Item) string {
	if it == nil {
		return ""
	}
	var texts []string
	for _, p := range it.Content {
		if (p.Type == PartInputText || p.Type == PartOutputText) && p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// turnMemory is a Recording's part in memory: what Finish needs to hand
// the turn to Observe.
type turnMemory struct {
	memory    Memory
	observe   bool // the user's memory and observation are enabled
	projectID string
	userText  string
}

// recall adds the memory message to the recording's system messages (after
// the project's instruction and the profile) when the user's memory is on,
// and prepares the observation of the turn.
func (rec *Recorder) recall(ctx context.Context, r *Recording, t Turn, cfg store.MemoryConfig, projectID string) {
	if rec.Memory == nil || !cfg.Enabled {
		return
	}
	text := t.UserText
	if t.User != nil {
		text = ItemText(t.User)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	r.mem = turnMemory{memory: rec.Memory, observe: cfg.ObserveEnabled && r.write, projectID: projectID, userText: text}
	msg := rec.Memory.Recall(ctx, RecallQuery{
		UserID:               t.UserID,
		ConversationPublicID: r.ref.ID,
		ProjectPublicID:      projectID,
		Text:                 text,
		Config:               cfg,
	})
	if msg != "" {
		r.system = append(r.system, msg)
	}
}

// Observe hands a finished turn to memory: only a stored, complete reply
// with text is learnt from. Finish calls it; an adapter that stores the
// reply itself (the Responses API) calls it once the reply is stored.
func (r *Recording) Observe(reply Reply) {
	m := r.mem
	if m.memory == nil || !m.observe || reply.Incomplete || strings.TrimSpace(reply.Text) == "" {
		return
	}
	m.memory.Observe(Observation{
		UserID:               r.userID,
		ConversationPublicID: r.ref.ID,
		ProjectPublicID:      m.projectID,
		User:                 m.userText,
		Assistant:            reply.Text,
	})
}
