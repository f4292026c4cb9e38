// Package store defines the persistence boundary of the gateway: the Store
// interface, the records it keeps, and the errors it returns. Two
// implementations exist, store/postgres (pgx) and store/memory (embedded
// default), and both must pass the conformance suite in store/storetest.
//
// Every record a user owns carries its user id, and every method that reads
// or changes such a record takes that user id: a record of another user is
// reported as ErrNotFound, never as a distinct error that would confirm it
// exists.
package store

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Errors returned by every Store implementation. Callers compare with
// errors.Is; implementations may wrap them with context.
var (
	// ErrNotFound means the record does not exist or belongs to another user.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule was violated (for example a
	// duplicate project name for one user).
	ErrConflict = errors.New("conflict")
	// ErrTokenReused means a refresh token that was already rotated was
	// presented again; the store has revoked the whole token family.
	ErrTokenReused = errors.New("refresh token reused")
	// ErrExpired means the record exists but its validity has ended.
	ErrExpired = errors.New("expired")
	// ErrUnavailable means the backing database could not be reached or did
	// not answer in time. Handlers answer 503.
	ErrUnavailable = errors.New("store unavailable")
	// ErrInvalidCursor means a pagination cursor does not name a record of
	// the listing.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrLimitReached means a record was not created because its owner
	// already has as many as allowed.
	ErrLimitReached = errors.New("limit reached")
	// ErrInvalidValue means the database refused a value the caller gave
	// (a NUL character in a string, a number out of range, a broken
	// constraint): the input is at fault, not the store. Handlers answer
	// 400.
	ErrInvalidValue = errors.New("invalid value")
)

// Store is everything the gateway persists.
type Store interface {
	UserStore
	TokenStore
	APIKeyStore
	ProjectStore
	ConversationStore
	SettingsStore
	RetentionStore
	ResponseStore
	MemoryStore // memory_items.go
	UsageStore
	UsageLimitStore

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Kind names the implementation ("postgres" or "memory") for logs and
	// readiness output.
	Kind() string
	// Close releases the store's resources.
	Close() error
}

// InProcess is implemented by a store whose queries run in the calling
// process without I/O (the in-memory store). Callers that would run
// independent queries concurrently run them one after another on it: there a
// goroutine costs more than the microseconds a query takes.
type InProcess interface {
	// InProcess reports whether the store's queries are in-process.
	InProcess() bool
}

// User kinds.
const (
	UserKindGuest = "guest"
	UserKindUser  = "user"
)

// User is one person or guest known to the gateway. (Issuer, Subject) is
// unique: an external OIDC identity maps to exactly one user.
type User struct {
	ID        int64
	PublicID  string // "usr_…"
	Issuer    string
	Subject   string
	Kind      string // UserKindGuest or UserKindUser
	Username  string
	Email     string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserStore keeps users.
type UserStore interface {
	// UpsertUser returns the user with u.Issuer and u.Subject, creating it
	// from u when none exists. An existing user's Username, Email, Name and
	// Kind are updated from u when they are non-empty and differ. ID,
	// PublicID and the timestamps of u are ignored.
	UpsertUser(ctx context.Context, u User) (User, error)
	// GetUser returns the user with the internal id.
	GetUser(ctx context.Context, id int64) (User, error)
	// GetUserByPublicID returns the user with the public id.
	GetUserByPublicID(ctx context.Context, publicID string) (User, error)
	// MergeGuest moves everything the guest owns to the signed-in user,
	// in one transaction (see GuestMerge for the rules). The guest must be
	// of kind guest and the user of kind user, else ErrConflict; either
	// unknown is ErrNotFound. Merging again moves what the guest has
	// created since (usually nothing).
	MergeGuest(ctx context.Context, guestID, userID int64, now time.Time) (GuestMerge, error)
}

// GuestMerge reports what MergeGuest moved. The rules:
//   - conversations (with their items) and projects (deleted ones too)
//     change owner; a project whose name the user already uses is renamed
//     "<name> (guest)", "<name> (guest 2)", … within MaxProjectNameLength;
//   - the guest's settings become the user's when the user has stored none;
//     otherwise the user's are kept and the guest's are dropped;
//   - the guest's refresh tokens are revoked: the guest session ends, and
//     the client goes on with the user's own tokens.
type GuestMerge struct {
	Conversations   int
	Projects        int
	RenamedProjects int
	// Settings reports that the guest's settings became the user's.
	Settings bool
}

// MaxProjectNameLength is the longest project name, in characters.
const MaxProjectNameLength = 120

// GuestProjectName is the name a merged guest project takes when the user
// already has a project called name: n is 1 for the first candidate, 2 for
// the next, and so on. The result is at most MaxProjectNameLength
// characters; name is shortened to make room for the suffix.
func GuestProjectName(name string, n int) string {
	suffix := " (guest)"
	if n > 1 {
		suffix = " (guest " + strconv.Itoa(n) + ")"
	}
	r := []rune(name)
	if room := MaxProjectNameLength - len([]rune(suffix)); len(r) > room {
		r = r[:max(room, 0)]
	}
	return string(r) + suffix
}

// RefreshToken is one opaque refresh token, stored as a hash. Tokens of one
// login share a FamilyID; rotation marks the old one used and issues the next
// in the same family.
type RefreshToken struct {
	ID        int64
	UserID    int64
	FamilyID  string
	Hash      []byte // SHA-256 of the token; the token itself is never stored
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
}

// SigningKey is one of the gateway's own token signing keys, shared by every
// replica through the store.
type SigningKey struct {
	KID        string
	Algorithm  string // for example "EdDSA" or "ES256"
	PrivateKey []byte // PKCS #8 DER
	CreatedAt  time.Time
	// RetiredAt is set when the key no longer signs; it still verifies until
	// the tokens it signed have expired.
	RetiredAt *time.Time
}

// TokenStore keeps refresh tokens and signing keys.
type TokenStore interface {
	// CreateRefreshToken stores a new token (the first of a family).
	CreateRefreshToken(ctx context.Context, t RefreshToken) (RefreshToken, error)
	// RotateRefreshToken atomically exchanges the token with hash oldHash for
	// next (which joins the old token's family and user; next.UserID and
	// next.FamilyID are overwritten). It returns the new token.
	// Unknown hash: ErrNotFound. Token already used, or its family revoked:
	// the family is revoked and ErrTokenReused returned. Token expired at now:
	// ErrExpired.
	RotateRefreshToken(ctx context.Context, oldHash []byte, next RefreshToken, now time.Time) (RefreshToken, error)
	// RevokeRefreshFamily revokes every token of the family holding the token
	// with hash. Unknown hash: ErrNotFound.
	RevokeRefreshFamily(ctx context.Context, hash []byte, now time.Time) error

	// ListSigningKeys returns every signing key, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// CreateSigningKey stores a new key. A duplicate KID is ErrConflict.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// RetireSigningKey marks the key as no longer signing.
	RetireSigningKey(ctx context.Context, kid string, at time.Time) error
}

// APIKey is a user's API key "sk_…", stored only as a hash plus a short
// prefix and suffix for display.
type APIKey struct {
	ID         int64
	PublicID   string // "key_…"
	UserID     int64
	Name       string
	Prefix     string // the first characters of the key, for display
	Suffix     string // the last characters of the key, for display
	Hash       []byte // SHA-256 of the key
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// APIKeyStore keeps API keys.
type APIKeyStore interface {
	// CreateAPIKey stores k and returns it with ID, PublicID and CreatedAt
	// set. When maxActive is positive and the user already has that many
	// keys that are not revoked, nothing is stored and ErrLimitReached is
	// returned; the count and the insert are atomic, so concurrent creates
	// never pass the cap together.
	CreateAPIKey(ctx context.Context, k APIKey, maxActive int) (APIKey, error)
	// ListAPIKeys returns the user's keys that are not revoked, newest first.
	ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error)
	// RevokeAPIKey revokes the user's key with the public id. Unknown,
	// already revoked, or another user's key: ErrNotFound.
	RevokeAPIKey(ctx context.Context, userID int64, publicID string, at time.Time) error
	// GetAPIKeyByHash returns the key with the hash (revoked or not) and its
	// user.
	GetAPIKeyByHash(ctx context.Context, hash []byte) (APIKey, User, error)
	// ListAPIKeysRevokedSince returns the hashes of keys revoked at or after
	// since, so replicas can drop them from their caches.
	ListAPIKeysRevokedSince(ctx context.Context, since time.Time) ([][]byte, error)
	// TouchAPIKeys records last-use times in one batch (key id → time). A
	// time older than the stored one does not move it back.
	TouchAPIKeys(ctx context.Context, lastUsed map[int64]time.Time) error
}

// Sort orders of listings.
const (
	OrderAsc  = "asc"
	OrderDesc = "desc"
)

// ListOptions selects one page of a listing ordered by creation time (ties
// broken by the internal id).
type ListOptions struct {
	// Limit is the page size; implementations use it as given (handlers
	// bound it).
	Limit int
	// After is the public id of the record after which the page starts, in
	// the listing's order. Empty starts at the beginning. A record deleted
	// since it was listed still marks its place for TombstoneRetention, so
	// paging goes on where it was; an id that never was in the listing (or
	// was deleted longer ago) is ErrInvalidCursor.
	After string
	// Order is OrderAsc or OrderDesc; empty means OrderDesc.
	Order string
	// MaxBytes bounds what one page weighs: the page ends after the record
	// whose Size brings the page's total to MaxBytes or more (so a page
	// always holds at least one record), and HasMore tells the client to
	// ask for the rest. Zero or less means no bound.
	MaxBytes int
}

// recordOverhead approximates what a record weighs beside its strings (ids,
// timestamps, flags), so that a page of many small records is bounded too.
const recordOverhead = 64

// jsonSize returns the bytes s takes written as a JSON string: a control
// character is escaped to six bytes ("\u0001"), a quote or backslash to
// two. Pages are weighed this way because that is what they cost once
// answered: a text of control characters weighs six times its length.
func jsonSize(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20:
			n += 5
		case c == '"' || c == '\\':
			n++
		}
	}
	return n
}

// Size returns what the conversation's stored strings weigh in JSON, for
// ListOptions.MaxBytes.
func (c *Conversation) Size() int {
	n := recordOverhead + jsonSize(c.Title) + len(c.ProjectPublicID)
	for k, v := range c.Metadata {
		n += jsonSize(k) + jsonSize(v)
	}
	return n
}

// Size returns what the project's stored strings weigh in JSON, for
// ListOptions.MaxBytes.
func (p *Project) Size() int {
	return recordOverhead + jsonSize(p.Name) + jsonSize(p.Instruction)
}

// Size returns what the item's stored strings weigh in JSON, for
// ListOptions.MaxBytes.
func (it *Item) Size() int {
	n := recordOverhead + len(it.Role) + len(it.Status)
	for _, p := range it.Content {
		n += len(p.Type) + jsonSize(p.Text) + jsonSize(p.ImageURL)
	}
	return n
}

// TombstoneRetention is how long a deleted record's place in its listing
// is kept for pagination cursors that name it.
const TombstoneRetention = 24 * time.Hour

// Page is one page of a listing.
type Page[T any] struct {
	Items   []T
	HasMore bool
}

// Project groups conversations. Names are unique per user among projects
// that are not deleted.
type Project struct {
	ID          int64
	PublicID    string // "proj_…"
	UserID      int64
	Name        string
	Instruction string
	IsFavorite  bool
	Archived    bool
	ArchivedAt  *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ProjectPatch changes the fields that are non-nil.
type ProjectPatch struct {
	Name        *string
	Instruction *string
	IsFavorite  *bool
	Archived    *bool // sets or clears ArchivedAt too
}

// ProjectStore keeps projects. Deleted projects are invisible (ErrNotFound).
type ProjectStore interface {
	CreateProject(ctx context.Context, p Project) (Project, error)
	GetProject(ctx context.Context, userID int64, publicID string) (Project, error)
	ListProjects(ctx context.Context, userID int64, opts ListOptions) (Page[Project], error)
	UpdateProject(ctx context.Context, userID int64, publicID string, patch ProjectPatch, now time.Time) (Project, error)
	// DeleteProject soft-deletes the project; its name becomes free again.
	DeleteProject(ctx context.Context, userID int64, publicID string, now time.Time) error
}

// Conversation is a saved chat.
type Conversation struct {
	ID              int64
	PublicID        string // "conv_…"
	UserID          int64
	ProjectPublicID string // empty when the conversation is in no project
	Title           string
	Archived        bool
	Metadata        map[string]string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// ConversationPatch changes the fields that are non-nil.
type ConversationPatch struct {
	Title           *string
	Archived        *bool
	Metadata        map[string]string // replaces when non-nil
	ProjectPublicID *string           // "" removes it from its project
}

// Item statuses.
const (
	ItemStatusCompleted  = "completed"
	ItemStatusIncomplete = "incomplete"
	ItemStatusInProgress = "in_progress"
)

// ContentPart is one part of an item's content.
type ContentPart struct {
	Type     string `json:"type"` // input_text, output_text, input_image, refusal, …
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
}

// Item is one entry of a conversation, usually a message.
type Item struct {
	ID             int64
	PublicID       string // "msg_…"
	ConversationID int64
	Type           string // "message"
	Role           string // user, assistant, system, developer, tool
	Status         string // ItemStatus…
	Content        []ContentPart
	CreatedAt      time.Time
}

// ConversationStore keeps conversations and their items. Items of one
// conversation are listed in the order they were appended, also when appends
// run concurrently.
type ConversationStore interface {
	// CreateConversation stores c and its initial items in one transaction.
	// A ProjectPublicID that is not the user's project is ErrNotFound.
	CreateConversation(ctx context.Context, c Conversation, items []Item) (Conversation, []Item, error)
	GetConversation(ctx context.Context, userID int64, publicID string) (Conversation, error)
	// ListConversations returns one page and the total number of the user's
	// conversations.
	ListConversations(ctx context.Context, userID int64, opts ListOptions) (Page[Conversation], int, error)
	UpdateConversation(ctx context.Context, userID int64, publicID string, patch ConversationPatch, now time.Time) (Conversation, error)
	// DeleteConversation deletes the conversation and all its items.
	DeleteConversation(ctx context.Context, userID int64, publicID string) error
	// SetConversationTitleIfEmpty sets the title only when it is empty and
	// returns the conversation as it is afterwards.
	SetConversationTitleIfEmpty(ctx context.Context, userID int64, publicID string, title string) (Conversation, error)

	// AppendItems appends items to the user's conversation, in the order
	// given, and returns them with ID, PublicID and CreatedAt set.
	AppendItems(ctx context.Context, userID int64, convPublicID string, items []Item) ([]Item, error)
	// ListItems pages through a conversation's items; the default order
	// (empty Order) is OrderDesc as for every listing.
	ListItems(ctx context.Context, userID int64, convPublicID string, opts ListOptions) (Page[Item], error)
	GetItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) (Item, error)
	DeleteItem(ctx context.Context, userID int64, convPublicID, itemPublicID string) error
}

// MemoryConfig is the memory group of user settings.
type MemoryConfig struct {
	Enabled          bool    `json:"enabled"`
	ObserveEnabled   bool    `json:"observe_enabled"`
	InjectUserCore   bool    `json:"inject_user_core"`
	InjectSemantic   bool    `json:"inject_semantic"`
	InjectEpisodic   bool    `json:"inject_episodic"`
	MaxUserItems     int     `json:"max_user_items"`
	MaxProjectItems  int     `json:"max_project_items"`
	MaxEpisodicItems int     `json:"max_episodic_items"`
	MinSimilarity    float64 `json:"min_similarity"`
}

// ProfileSettings is the profile group of user settings.
type ProfileSettings struct {
	BaseStyle          string `json:"base_style"`
	CustomInstructions string `json:"custom_instructions"`
	NickName           string `json:"nick_name"`
	Occupation         string `json:"occupation"`
	MoreAboutYou       string `json:"more_about_you"`
}

// AdvancedSettings is the advanced group of user settings.
type AdvancedSettings struct {
	WebSearch   bool `json:"web_search"`
	CodeEnabled bool `json:"code_enabled"`
}

// UserSettings are one user's settings, in the spec's JSON shape.
type UserSettings struct {
	ID               int64            `json:"id"`
	UserID           int64            `json:"user_id"`
	MemoryConfig     MemoryConfig     `json:"memory_config"`
	ProfileSettings  ProfileSettings  `json:"profile_settings"`
	AdvancedSettings AdvancedSettings `json:"advanced_settings"`
	EnableTrace      bool             `json:"enable_trace"`
	EnableTools      bool             `json:"enable_tools"`
	Preferences      map[string]any   `json:"preferences"`
	CreatedAt        time.Time        `json:"created_at"`
	UpdatedAt        time.Time        `json:"updated_at"`
}

// SettingsStore keeps user settings.
type SettingsStore interface {
	// GetSettings returns the user's stored settings, or ErrNotFound when
	// none are stored.
	GetSettings(ctx context.Context, userID int64) (UserSettings, error)
	// UpdateSettings reads the user's settings (or defaults when none are
	// stored), calls apply on them and stores the result, all in one
	// transaction so concurrent updates are not lost. An error from apply
	// aborts the update and is returned as it is.
	UpdateSettings(ctx context.Context, userID int64, defaults UserSettings, apply func(*UserSettings) error) (UserSettings, error)
}

// RetentionPolicy says what Purge deletes. A zero time turns its rule off.
type RetentionPolicy struct {
	// TokensExpiredBefore deletes refresh tokens (used, revoked or not)
	// whose expiry is before it; a family is gone with its last token.
	TokensExpiredBefore time.Time
	// GuestsIdleSince deletes guest users created before it who were
	// issued no refresh token since (guest login and every refresh issue
	// one), with everything they own.
	GuestsIdleSince time.Time
	// BatchSize bounds the rows one statement deletes, so that a large
	// backlog does not hold locks for long (default 1000).
	BatchSize int
}

// RetentionResult reports what Purge deleted.
type RetentionResult struct {
	RefreshTokens int64
	Guests        int64
	// Skipped is set when another replica was purging: nothing was done.
	Skipped bool
}

// RetentionStore deletes what the gateway no longer needs, so that nothing
// grows for ever with the number of users or requests.
type RetentionStore interface {
	// Purge applies the policy. Replicas sharing a database may all call
	// it; one purges at a time and the others skip.
	Purge(ctx context.Context, p RetentionPolicy) (RetentionResult, error)
}
