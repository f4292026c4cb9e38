package store

import (
	"context"
	"time"
)

// PrefixResponse is the public id prefix of stored responses.
const PrefixResponse = "resp"

// ResponseRetention is how long a stored response is kept, as OpenAI keeps
// those of its Responses API: the retention job deletes older ones. The
// conversation items a response appended belong to their conversation and
// stay.
const ResponseRetention = 30 * 24 * time.Hour

// MaxResponseChain and MaxResponseChainBytes bound how many responses, and
// how much of their stored JSON, a request's previous_response_id brings
// back: the oldest are left out beyond them, as a model's context would
// leave them out anyway.
const (
	MaxResponseChain      = 256
	MaxResponseChainBytes = 8 << 20
)

// Response is one stored answer of the Responses API.
type Response struct {
	ID int64
	// PublicID is "resp_…", chosen by the caller: a streamed response
	// announces its id before it is stored.
	PublicID string
	UserID   int64
	// PreviousResponseID is the public id of the response this one
	// continues, empty for none.
	PreviousResponseID string
	// ConversationID is the public id of the conversation the response was
	// recorded into, empty for none (or once that conversation is deleted).
	ConversationID string
	// ConversationItemIDs are the public ids of the items the response
	// appended to that conversation, in order.
	ConversationItemIDs []string
	// Model is the public model id; Status the response's status
	// (completed, incomplete, failed).
	Model  string
	Status string
	// Body is the Response object as answered, JSON.
	Body []byte
	// Input is the JSON array of the request's input items, with their ids.
	Input     []byte
	CreatedAt time.Time
}

// ResponseStore keeps stored responses. Every method is scoped by the user
// id: another user's response is ErrNotFound.
type ResponseStore interface {
	// CreateResponse stores r. A ConversationID that is not the user's is
	// stored as none. A duplicate PublicID is ErrConflict.
	CreateResponse(ctx context.Context, r Response) (Response, error)
	// GetResponse returns the user's response.
	GetResponse(ctx context.Context, userID int64, publicID string) (Response, error)
	// ResponseChain returns the user's response with the public id and the
	// responses it continues (following PreviousResponseID), oldest first:
	// the newest ones, at most max of them and, past the first, no more than
	// maxBytes of Body and Input together. An unknown publicID is
	// ErrNotFound; a predecessor that is gone ends the chain.
	ResponseChain(ctx context.Context, userID int64, publicID string, max, maxBytes int) ([]Response, error)
	// DeleteResponse deletes the user's response.
	DeleteResponse(ctx context.Context, userID int64, publicID string) error
	// PurgeResponses deletes responses created before the time, at most
	// batch (default 1000) per statement, and returns how many it deleted.
	PurgeResponses(ctx context.Context, createdBefore time.Time, batch int) (int64, error)
}
