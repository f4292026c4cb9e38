// Package turns records chat turns into conversations: Recorder implements
// chat.ConversationRecorder on a store.Store.
//
// A turn is a chat request that names a conversation ("conversation": an id
// or {"id"}) or asks to be stored ("store": true, which creates a new
// conversation when none is named). Before the upstream call, Recorder checks
// that the conversation is the caller's (404 otherwise), appends the new user
// message, titles an untitled conversation after the first user message, and
// composes the system messages the gateway adds: the conversation's project
// instruction and the user's profile settings. After the answer, the turn
// appends the assistant's reply, complete or cut short.
//
// With "store": false nothing is written, but the conversation must still be
// the caller's and its instruction and the profile still apply.
package turns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/chat"
	"github.com/caddy-llm/gateway/handlers/conversations"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/settings"
	"github.com/caddy-llm/gateway/store"
)

// Recorder records chat turns in Store. Its fields are read-only once it
// serves.
type Recorder struct {
	// Store keeps conversations, projects and settings. Required.
	Store store.Store
	// Logger receives failures the client cannot be told about (never
	// message content). Nil logs nothing.
	Logger *zap.Logger
}

// BeginTurn implements chat.ConversationRecorder. The queries of a turn run
// concurrently where they do not depend on each other (see parallel):
// reading the conversation, appending the user message and loading the
// settings go together (each is scoped by the caller's user id, so a
// conversation of another user is a 404 with nothing written), then titling
// and reading the project when there is one. A turn into a titled
// conversation without a project waits for one round of queries before the
// upstream call.
//
// A database that fails between those queries can leave the user message
// stored although the turn is refused, as an upstream failure does.
func (rec *Recorder) BeginTurn(ctx context.Context, p *principal.Principal, req *openai.ChatRequest, body []byte) (chat.Turn, *apierr.Error) {
	in := readInput(body)
	if in.user != nil && (req.Store == nil || *req.Store) {
		// The message is stored: it obeys the limits of stored items.
		param := "messages[" + strconv.Itoa(in.userIndex) + "].content"
		if aerr := conversations.ValidateStoredContent(in.user.Content, param); aerr != nil {
			return nil, aerr
		}
	}
	if req.Conversation == "" {
		// Only called with "store": true then: a new conversation.
		return rec.beginNew(ctx, p.UserID, in)
	}
	write := req.Store == nil || *req.Store // default true with a conversation
	return rec.beginExisting(ctx, p.UserID, req.Conversation, write, in)
}

// beginNew creates a conversation holding the user message.
func (rec *Recorder) beginNew(ctx context.Context, userID int64, in input) (chat.Turn, *apierr.Error) {
	var (
		conv        store.Conversation
		prefs       store.UserSettings
		convErr     error
		settingsErr error
	)
	var items []store.Item
	if in.user != nil {
		items = []store.Item{*in.user}
	}
	rec.parallel(
		func() {
			conv, _, convErr = rec.Store.CreateConversation(ctx, store.Conversation{UserID: userID, Title: in.title}, items)
		},
		func() { prefs, settingsErr = settings.Load(ctx, rec.Store, userID) },
	)
	if err := firstError(convErr, settingsErr); err != nil {
		return nil, rec.refuse(ctx, "starting a new conversation", err)
	}
	return &turn{
		store:  rec.Store,
		userID: userID,
		ref:    chat.ConversationRef{ID: conv.PublicID, Title: conv.Title},
		write:  true,
		system: systemMessages("", prefs.ProfileSettings),
	}, nil
}

// beginExisting checks the conversation, appends the user message when the
// turn is stored, and composes the system messages.
func (rec *Recorder) beginExisting(ctx context.Context, userID int64, convID string, write bool, in input) (chat.Turn, *apierr.Error) {
	var (
		conv                            store.Conversation
		prefs                           store.UserSettings
		convErr, appendErr, settingsErr error
	)
	var appendUser func()
	if write && in.user != nil {
		appendUser = func() {
			_, appendErr = rec.Store.AppendItems(ctx, userID, convID, []store.Item{*in.user})
		}
	}
	rec.parallel(
		func() { conv, convErr = rec.Store.GetConversation(ctx, userID, convID) },
		appendUser,
		func() { prefs, settingsErr = settings.Load(ctx, rec.Store, userID) },
	)
	// The conversation's own error first: it is the one that explains the
	// others (a conversation of another user fails the append too).
	if err := firstError(convErr, appendErr, settingsErr); err != nil {
		return nil, rec.refuse(ctx, "starting a turn", err)
	}

	var (
		titled             store.Conversation
		project            store.Project
		titleErr, projErr  error
		setTitle, readProj func()
	)
	if write && conv.Title == "" && in.title != "" {
		setTitle = func() {
			titled, titleErr = rec.Store.SetConversationTitleIfEmpty(ctx, userID, convID, in.title)
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
		return nil, rec.refuse(ctx, "reading the conversation's project", projErr)
	}
	switch {
	case setTitle == nil:
	case titleErr != nil:
		// The title is cosmetic: the turn goes on untitled.
		rec.logger().Warn("titling a conversation failed", zap.String("conversation", convID), zap.Error(titleErr))
	default:
		conv.Title = titled.Title
	}
	return &turn{
		store:  rec.Store,
		userID: userID,
		ref:    chat.ConversationRef{ID: conv.PublicID, Title: conv.Title},
		write:  write,
		system: systemMessages(project.Instruction, prefs.ProfileSettings),
	}, nil
}

// refuse returns the client's error for a failed query: 404 for a
// conversation that is not the caller's, 503 when the database is
// unavailable, 500 (logged) otherwise.
func (rec *Recorder) refuse(ctx context.Context, doing string, err error) *apierr.Error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("conversation").WithParam("conversation")
	}
	if aerr := httpx.StoreError(err, "conversation"); aerr != nil {
		return aerr
	}
	if ctx.Err() != nil {
		return apierr.New(provider.StatusClientClosed, provider.CodeClientClosed, "the client closed the request")
	}
	rec.logger().Error(doing, zap.Error(err))
	return apierr.New(http.StatusInternalServerError, "internal_error", "internal error")
}

func (rec *Recorder) logger() *zap.Logger {
	if rec.Logger == nil {
		return zap.NewNop()
	}
	return rec.Logger
}

// turn is one turn begun by Recorder.
type turn struct {
	store  store.ConversationStore
	userID int64
	ref    chat.ConversationRef
	write  bool // false for "store": false
	system []string
}

func (t *turn) Conversation() chat.ConversationRef { return t.ref }

func (t *turn) SystemMessages() []string { return t.system }

// Finish appends the assistant's reply as one message item.
func (t *turn) Finish(ctx context.Context, reply chat.Reply) error {
	if !t.write {
		return nil
	}
	if _, err := t.store.AppendItems(ctx, t.userID, t.ref.ID, []store.Item{assistantItem(reply)}); err != nil {
		return fmt.Errorf("appending the reply to conversation %s: %w", t.ref.ID, err)
	}
	return nil
}

// parallel runs the non-nil fns at once, the first on the calling
// goroutine, and returns when all are done. On the in-memory store, whose
// queries take microseconds, they run one after another: there a goroutine
// costs more than it saves.
func (rec *Recorder) parallel(fns ...func()) {
	if rec.Store.Kind() == "memory" {
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
