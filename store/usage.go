package store

import (
	"context"
	"time"
)

// UsageRecord is the metering of one model request: who made it, which
// model answered, and the tokens and cost it took. It carries no message
// content and no credential.
type UsageRecord struct {
	// ID is unique per record (the writer makes it): a batch written again
	// after a timeout whose commit did go through is not counted twice.
	ID string
	// RequestID is the request's X-Request-Id (a client may choose it, so
	// it is not unique).
	RequestID string
	UserID    int64
	// APIKeyID is the internal id of the API key the request used; zero
	// when it used none.
	APIKeyID int64
	Model    string
	Provider string
	// PromptTokens and CompletionTokens are the upstream's own counts, or
	// the gateway's estimate when Estimated (a stream cut before the
	// upstream reported its usage).
	PromptTokens     int64
	CompletionTokens int64
	// CostNanos is the cost in billionths of the price's currency unit
	// (USD), from the model's configured prices; integers, so that sums are
	// exact.
	CostNanos  int64
	Estimated  bool
	Stream     bool
	Incomplete bool
	Status     int
	ErrorCode  string
	// TimeToFirstToken and Duration are from the request's start.
	TimeToFirstToken time.Duration
	Duration         time.Duration
	CreatedAt        time.Time
}

// UsageQuery selects usage by hour, for a period [Start, End).
type UsageQuery struct {
	// UserID is the user whose usage is read; zero reads every user's
	// (operators only).
	UserID int64
	Start  time.Time
	End    time.Time
	// ByModel, ByAPIKey and ByUser split the rows by model, by API key
	// and by user; otherwise those columns are empty in the rows.
	ByModel  bool
	ByAPIKey bool
	ByUser   bool
}

// UsageRow is the usage of one hour (and, when split, one model, key or
// user).
type UsageRow struct {
	Hour time.Time
	// Model, APIKeyPublicID and UserPublicID are set when the query splits
	// by them; APIKeyPublicID is empty for requests made without a key.
	Model            string
	APIKeyPublicID   string
	UserPublicID     string
	PromptTokens     int64
	CompletionTokens int64
	Requests         int64
	CostNanos        int64
}

// UsageStore keeps usage records and their hourly aggregates per user, API
// key and model.
type UsageStore interface {
	// InsertUsage stores records and adds them to the hourly aggregates, all
	// or nothing. A record whose ID is already stored is skipped, so that a
	// retried batch counts once. It returns how many were new.
	InsertUsage(ctx context.Context, records []UsageRecord) (int, error)
	// QueryUsage returns the hourly aggregates of q, ordered by hour, then
	// by model, key and user. Hours without usage have no row.
	QueryUsage(ctx context.Context, q UsageQuery) ([]UsageRow, error)
	// ListUsageRecords returns the user's records created in [start, end),
	// oldest first, at most limit.
	ListUsageRecords(ctx context.Context, userID int64, start, end time.Time, limit int) ([]UsageRecord, error)
	// PurgeUsage deletes records created before recordsBefore and hourly
	// aggregates of hours before aggregatesBefore (a zero time keeps
	// them), in batches of batch rows. Like Purge, one replica purges at a
	// time: skipped reports that another one holds the lock.
	PurgeUsage(ctx context.Context, recordsBefore, aggregatesBefore time.Time, batch int) (deleted int64, skipped bool, err error)
}

// UsageLimits are an operator's or a user's limits on one user (APIKeyID
// zero) or one of its API keys, beyond the configured defaults. A zero
// value leaves that limit to the defaults.
type UsageLimits struct {
	// Budgets: tokens, or cost in nanos of the prices' unit, per UTC day
	// and per UTC month.
	TokensPerDay      int64 `json:"tokens_per_day,omitempty"`
	TokensPerMonth    int64 `json:"tokens_per_month,omitempty"`
	CostNanosPerDay   int64 `json:"cost_nanos_per_day,omitempty"`
	CostNanosPerMonth int64 `json:"cost_nanos_per_month,omitempty"`
	// TokensPerMinute is a token rate limit of its own, within the tier's.
	TokensPerMinute int64 `json:"tokens_per_minute,omitempty"`
	// Models restricts a key to these public model ids; none allows all.
	Models []string `json:"models,omitempty"`
	// SetByAdmin reports limits an operator set: the user may lower them
	// but not raise or remove them.
	SetByAdmin bool `json:"set_by_admin,omitempty"`
}

// UsageLimitStore keeps UsageLimits.
type UsageLimitStore interface {
	// GetUsageLimits returns the limits of the user (apiKeyID zero) or of
	// one of its keys; ErrNotFound when none are set.
	GetUsageLimits(ctx context.Context, userID, apiKeyID int64) (UsageLimits, error)
	// PutUsageLimits sets them; a key that is not the user's is
	// ErrNotFound.
	PutUsageLimits(ctx context.Context, userID, apiKeyID int64, l UsageLimits) error
	// DeleteUsageLimits removes them; none set is ErrNotFound.
	DeleteUsageLimits(ctx context.Context, userID, apiKeyID int64) error
}
