package store

import (
	"context"
	"time"
)

// Kinds of memory items.
const (
	// MemoryKindUser is a core fact about the user ("The user lives in
	// Paris"), used in every conversation.
	MemoryKindUser = "user"
	// MemoryKindProject is a fact of one project, used in that project's
	// conversations.
	MemoryKindProject = "project"
	// MemoryKindEpisodic is a summary of a past turn.
	MemoryKindEpisodic = "episodic"
)

// Sources of memory items.
const (
	// MemorySourceObserved items were learnt from a conversation.
	MemorySourceObserved = "observed"
	// MemorySourceManual items were added by the user through the API.
	MemorySourceManual = "manual"
)

// MemoryItem is one thing the gateway remembers about a user, with the
// embedding retrieval compares. Vectors are compared in Go (exact cosine):
// a user's items are few (see MemoryStore's cap), so no vector index is
// needed.
type MemoryItem struct {
	ID       int64
	PublicID string // "mem_…"
	UserID   int64
	Kind     string // MemoryKind…
	Text     string
	// ProjectPublicID is the project of a project fact; empty for the
	// other kinds.
	ProjectPublicID string
	// ConversationPublicID is the conversation the item was learnt from,
	// empty for items added by hand. It is a plain reference: deleting the
	// conversation keeps what was learnt (the user forgets through the
	// memory API).
	ConversationPublicID string
	Source               string // MemorySource…
	// Embedding is the item's vector, nil when none could be computed (the
	// item is then never retrieved until its text is updated);
	// EmbeddingModel names the model that computed it: vectors of other
	// models are not compared.
	Embedding      []float32
	EmbeddingModel string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Size returns what the item weighs in JSON, for ListOptions.MaxBytes (the
// vector is not listed).
func (m *MemoryItem) Size() int {
	return recordOverhead + len(m.Kind) + jsonSize(m.Text) + len(m.ProjectPublicID) + len(m.ConversationPublicID)
}

// MemoryFilter selects the items of a listing; empty fields select all.
type MemoryFilter struct {
	Kind            string
	ProjectPublicID string
}

// MemoryPatch changes the fields that are non-nil. A new Text should come
// with its new Embedding (nil Embedding with a Text clears the vector).
type MemoryPatch struct {
	Text           *string
	Embedding      []float32
	EmbeddingModel *string
}

// MemoryStamp changes whenever a user's memory items change (an item is
// added, updated or deleted), so that a cache of them can tell it is stale
// with one small query.
type MemoryStamp struct {
	Count     int
	MaxID     int64
	UpdatedAt time.Time
}

// MemoryStore keeps users' memory items. Every method is scoped by the user
// id: another user's item is ErrNotFound.
type MemoryStore interface {
	// CreateMemoryItem stores it and returns it with ID, PublicID and the
	// timestamps set. When maxPerUser is positive and the user has that
	// many items already: an episodic item takes the place of the user's
	// oldest episodic item (episodic memory is a rolling window); any
	// other kind is refused with ErrLimitReached (or also when there is no
	// episodic item to drop). Count and insert are atomic.
	CreateMemoryItem(ctx context.Context, it MemoryItem, maxPerUser int) (MemoryItem, error)
	// GetMemoryItem returns the user's item.
	GetMemoryItem(ctx context.Context, userID int64, publicID string) (MemoryItem, error)
	// ListMemoryItems pages through the user's items that match the
	// filter, ordered by creation (ListOptions). Listed items carry no
	// Embedding. An After that names no item of the user is
	// ErrInvalidCursor.
	ListMemoryItems(ctx context.Context, userID int64, f MemoryFilter, opts ListOptions) (Page[MemoryItem], error)
	// MemoryVectors returns the user's newest max items (every item when
	// max <= 0) with their embeddings, for retrieval, oldest first. A user
	// can hold more than the cap CreateMemoryItem keeps (MergeGuest moves
	// a guest's items without it): recall still reads no more than max.
	MemoryVectors(ctx context.Context, userID int64, max int) ([]MemoryItem, error)
	// MemoryStamp returns the stamp of the user's items (see MemoryStamp).
	MemoryStamp(ctx context.Context, userID int64) (MemoryStamp, error)
	// UpdateMemoryItem applies the patch and returns the item.
	UpdateMemoryItem(ctx context.Context, userID int64, publicID string, patch MemoryPatch, now time.Time) (MemoryItem, error)
	// DeleteMemoryItem deletes the user's item.
	DeleteMemoryItem(ctx context.Context, userID int64, publicID string) error
	// DeleteMemoryItems deletes every item of the user, and the user's
	// turns waiting to be observed, and returns how many items there were.
	DeleteMemoryItems(ctx context.Context, userID int64) (int64, error)

	// AddPendingObservation stores a turn waiting to be observed, not
	// claimed by anyone, and returns it with ID and CreatedAt set. When the
	// user has maxPerUser turns waiting already (maxPerUser > 0) it stores
	// nothing and returns ErrLimitReached: one user's flood of turns must
	// neither grow the table without end nor make everyone else's turns
	// wait behind it.
	AddPendingObservation(ctx context.Context, p PendingObservation, maxPerUser int) (PendingObservation, error)
	// ClaimPendingObservation claims the turn until until when nobody
	// holds it at now (never claimed, or its claim has expired), counting
	// one more attempt; false when another holds it or it is gone.
	ClaimPendingObservation(ctx context.Context, id int64, now, until time.Time) (bool, error)
	// ClaimPendingObservations claims up to n turns nobody holds at now,
	// oldest first, as ClaimPendingObservation does each; concurrent
	// callers never get the same turn.
	ClaimPendingObservations(ctx context.Context, now, until time.Time, n int) ([]PendingObservation, error)
	// DeletePendingObservation deletes the turn (observed, or given up);
	// one that is gone already is no error.
	DeletePendingObservation(ctx context.Context, id int64) error
	// PurgePendingObservations deletes the turns created before before and
	// returns how many.
	PurgePendingObservations(ctx context.Context, before time.Time) (int64, error)
}

// PendingObservation is a finished turn waiting to be observed by the
// memory worker.
type PendingObservation struct {
	ID                   int64
	UserID               int64
	ConversationPublicID string
	ProjectPublicID      string
	UserText             string
	AssistantText        string
	// Attempts counts the claims so far, this one included once claimed.
	Attempts  int
	CreatedAt time.Time
}
