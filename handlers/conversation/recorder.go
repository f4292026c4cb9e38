package conversation

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/caddy-llm/gateway/store"
)

// Turn is one turn to record, as an adapter read it from its request.
type Turn struct {
	// UserID is the caller's user id; every query is scoped by it.
	UserID int64
	// ConversationID names the conversation to append to ("conv_…"); empty
	// starts a new conversation, which is then always written.
	ConversationID string
	// Write is false when the turn is not to be stored ("store": false):
	// the conversation must still be the caller's, and its instruction and
	// the profile still apply.
	Write bool
	// Title is the title an untitled conversation takes (see TitleFrom),
	// empty for none.
	Title string
	// User is the new user item (see UserItem), nil when the request adds
	// none (it ends with a tool result, say). The adapter has checked it
	// with ValidateContent when Write.
	User *store.Item
	// UserText is the text of the new user message when User is nil
	// because the adapter appends the turn's items itself (the Responses
	// API): memory recalls for it, and Recording.Observe learns from it.
	UserText string
}

// Ref names the conversation of a turn, as answers show it.
type Ref struct {
	ID    string
	Title string
}

// Recorder records turns in Store. Its fields are read-only once it
// serves.
type Recorder struct {
	// Store keeps conversations, projects and settings. Required.
	Store store.Store
	// Memory, when set, recalls what a user's memory holds for a turn and
	// learns from finished turns (memory.go). Nil: no memory.
	Memory Memory
}

// Begin starts a turn before the upstream call: it checks that the
// conversation is the caller's, appends the user item when the turn is
// written, titles an untitled conversation, and composes the system
// messages of the conversation's project instruction and the user's profile
// (SystemMessages), then, when Memory is set and the user's memory is on,
// what it recalls (memory.go). A new conversation is created holding the
// user item.
//
// A store.TurnStore does the work of a turn on an existing conversation in
// one call (PostgreSQL: one round trip, one commit). On other stores the
// queries of a turn run concurrently where they do not depend on each
// other (unless the store is store.InProcess): reading the conversation,
// appending the user item and loading the settings go together (each is
// scoped by the user id, so a conversation of another user fails with
// store.ErrNotFound and nothing written), then titling and reading the
// project when there is one. A database that fails between those queries
// can leave the user item stored although the turn fails, as an upstream
// failure does.
//
// Errors are the store's, wrapped with what was being done: errors.Is
// store.ErrNotFound means the conversation is not the caller's.
func (rec *Recorder) Begin(ctx context.Context, t Turn) (*Recording, error) {
	if t.ConversationID == "" {
		return rec.beginNew(ctx, t)
	}
	return rec.beginExisting(ctx, t)
}

// beginNew creates a conversation holding the user item.
func (rec *Recorder) beginNew(ctx context.Context, t Turn) (*Recording, error) {
	var (
		conv        store.Conversation
		prefs       store.UserSettings
		convErr     error
		settingsErr error
	)
	var items []store.Item
	if t.User != nil {
		items = []store.Item{*t.User}
	}
	rec.parallel(
		func() {
			conv, _, convErr = rec.Store.CreateConversation(ctx, store.Conversation{UserID: t.UserID, Title: t.Title}, items)
		},
		func() { prefs, settingsErr = LoadSettings(ctx, rec.Store, t.UserID) },
	)
	if err := firstError(convErr, settingsErr); err != nil {
		return nil, fmt.Errorf("starting a new conversation: %w", err)
	}
	r := &Recording{
		store:  rec.Store,
		userID: t.UserID,
		ref:    Ref{ID: conv.PublicID, Title: conv.Title},
		write:  true,
		system: SystemMessages("", prefs.ProfileSettings),
	}
	rec.recall(ctx, r, t, prefs.MemoryConfig, "")
	return r, nil
}

// beginExisting checks the conversation, appends the user item when the
// turn is written, and composes the system messages.
func (rec *Recorder) beginExisting(ctx context.Context, t Turn) (*Recording, error) {
	if ts, ok := rec.Store.(store.TurnStore); ok {
		return rec.startTurn(ctx, ts, t)
	}
	var (
		conv                            store.Conversation
		prefs                           store.UserSettings
		convErr, appendErr, settingsErr error
	)
	userID, convID := t.UserID, t.ConversationID
	var appendUser func()
	if t.Write && t.User != nil {
		appendUser = func() {
			_, appendErr = rec.Store.AppendItems(ctx, userID, convID, []store.Item{*t.User})
		}
	}
	rec.parallel(
		func() { conv, convErr = rec.Store.GetConversation(ctx, userID, convID) },
		appendUser,
		func() { prefs, settingsErr = LoadSettings(ctx, rec.Store, userID) },
	)
	// The conversation's own error first: it is the one that explains the
	// others (a conversation of another user fails the append too).
	if err := firstError(convErr, appendErr, settingsErr); err != nil {
		return nil, fmt.Errorf("starting a turn: %w", err)
	}

	var (
		titled             store.Conversation
		project            store.Project
		titleErr, projErr  error
		setTitle, readProj func()
	)
	if t.Write && conv.Title == "" && t.Title != "" {
		setTitle = func() {
			titled, titleErr = rec.Store.SetConversationTitleIfEmpty(ctx, userID, convID, t.Title)
		}
	}
	if conv.ProjectPublicID != "" {
		readProj = func() {
			project, projErr = rec.Store.GetProject(ctx, userID, conv.ProjectPublicID)
		}
	}
	if setTitle != nil || readProj != nil {
		rec.parallel(setTitle, readProj)
	}
	if errors.Is(projErr, store.ErrNotFound) {
		projErr = nil // deleted since: no instruction
	}
	if projErr != nil {
		return nil, fmt.Errorf("reading the conversation's project: %w", projErr)
	}
	if setTitle != nil && titleErr == nil {
		conv.Title = titled.Title
	}
	r := &Recording{
		titleErr: titleErr,
		store:    rec.Store,
		userID:   userID,
		ref:      Ref{ID: conv.PublicID, Title: conv.Title},
		write:    t.Write,
		system:   SystemMessages(project.Instruction, prefs.ProfileSettings),
	}
	rec.recall(ctx, r, t, prefs.MemoryConfig, conv.ProjectPublicID)
	return r, nil
}

// startTurn is beginExisting on a store that does it all in one go (on
// PostgreSQL, one round trip and one commit).
func (rec *Recorder) startTurn(ctx context.Context, ts store.TurnStore, t Turn) (*Recording, error) {
	tc, err := ts.StartTurn(ctx, t.UserID, t.ConversationID, store.TurnStart{Write: t.Write, User: t.User, Title: t.Title})
	if err != nil {
		return nil, fmt.Errorf("starting a turn: %w", err)
	}
	prefs := tc.Settings
	if !tc.HasSettings {
		prefs = DefaultSettings()
		prefs.UserID = t.UserID
	}
	r := &Recording{
		store:  rec.Store,
		userID: t.UserID,
		ref:    Ref{ID: tc.Conversation.PublicID, Title: tc.Conversation.Title},
		write:  t.Write,
		system: SystemMessages(tc.Instruction, prefs.ProfileSettings),
	}
	rec.recall(ctx, r, t, prefs.MemoryConfig, tc.Conversation.ProjectPublicID)
	return r, nil
}

// Recording is a turn begun by Recorder.Begin.
type Recording struct {
	store  store.ConversationStore
	userID int64
	ref    Ref
	write  bool // false for "store": false
	system []string
	// titleErr is why titling the conversation failed.
	titleErr error
	// mem is the turn's part in memory (memory.go).
	mem turnMemory
}

// Conversation names the turn's conversation.
func (r *Recording) Conversation() Ref { return r.ref }

// SystemMessages are the system messages to send upstream before the
// client's messages, in order (the project's instruction, the user's
// profile, the memory recalled); none is nil.
func (r *Recording) SystemMessages() []string { return r.system }

// TitleError is why titling an untitled conversation failed, nil when it
// did not. The title is cosmetic: the turn goes on untitled, and the caller
// only logs the error.
func (r *Recording) TitleError() error { return r.titleErr }

// Finish appends the assistant's reply as one message item (nothing when
// the turn is not written). ctx only bounds the write: it should outlive
// the request, so that a reply cut short by a client that went away is
// stored too.
func (r *Recording) Finish(ctx context.Context, reply Reply) error {
	if !r.write {
		return nil
	}
	if _, err := r.store.AppendItems(ctx, r.userID, r.ref.ID, []store.Item{AssistantItem(reply)}); err != nil {
		return fmt.Errorf("appending the reply to conversation %s: %w", r.ref.ID, err)
	}
	r.Observe(reply)
	return nil
}

// parallel runs the non-nil fns at once, the first on the calling
// goroutine, and returns when all are done; one after another on a
// store.InProcess store.
func (rec *Recorder) parallel(fns ...func()) {
	if ip, ok := rec.Store.(store.InProcess); ok && ip.InProcess() {
		for _, f := range fns {
			if f != nil {
				f()
			}
		}
		return
	}
	var wg sync.WaitGroup
	var first func()
	for _, f := range fns {
		switch {
		case f == nil:
		case first == nil:
			first = f
		default:
			wg.Go(f)
		}
	}
	if first != nil {
		first()
	}
	wg.Wait()
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
