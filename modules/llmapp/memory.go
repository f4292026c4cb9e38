package llmapp

import (
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-llm/gateway/handlers/memory"
)

// MemoryConfig configures the users' memory (handlers/memory): which models
// embed and extract, and its bounds. Without it, or without EmbedModel,
// memory is off: the memory_config settings are stored but change nothing,
// and the memory API keeps items without vectors.
type MemoryConfig struct {
	// EmbedModel is the public model that embeds messages and memory items
	// (an OpenAI-compatible embedding model, or any model of the mock).
	EmbedModel string `json:"embed_model,omitempty"`
	// ExtractModel is the chat model that extracts durable facts from
	// finished turns; empty turns observation off.
	ExtractModel string `json:"extract_model,omitempty"`
	// EmbedDimensions asks the embedding model for vectors of this length
	// (0: the model's own).
	EmbedDimensions int `json:"embed_dimensions,omitempty"`
	// MaxItemsPerUser caps a user's items (default 1000): retrieval
	// compares the message with each. Episodic items roll at the cap.
	MaxItemsPerUser int `json:"max_items_per_user,omitempty"`
	// QueueSize bounds the turns waiting to be observed (default 256);
	// beyond it turns are not observed.
	QueueSize int `json:"queue_size,omitempty"`
	// Workers is the number of observation workers (default 1).
	Workers int `json:"workers,omitempty"`
	// DuplicateSimilarity is the cosine at or above which a new fact
	// replaces an older one (default 0.9).
	DuplicateSimilarity float64 `json:"duplicate_similarity,omitempty"`
	// TokenBudget bounds the memory system message, in tokens (default
	// 500).
	TokenBudget int `json:"token_budget,omitempty"`
	// RecallTimeout bounds a recall's embedding call (default 3s); past it
	// the turn goes on without memory.
	RecallTimeout caddy.Duration `json:"recall_timeout,omitempty"`
	// Attempts is how often an observation's upstream calls are tried
	// (default 3), RetryBackoff the first pause between them (default 2s,
	// doubling).
	Attempts     int            `json:"attempts,omitempty"`
	RetryBackoff caddy.Duration `json:"retry_backoff,omitempty"`
	// SweepInterval is how often the store is searched for turns nobody
	// is observing, left by a restart, a reload or a full queue (default
	// 30s).
	SweepInterval caddy.Duration `json:"sweep_interval,omitempty"`
}

// provisionMemory builds the memory service on the store and router, and
// runs its observation workers until the config is unloaded (turns not
// observed by then wait in the store for the next config's workers: see
// memory.Service.Observe).
func (a *App) provisionMemory(ctx caddy.Context, repl *caddy.Replacer) {
	cfg := memory.Config{Store: a.store, Router: a.router, Logger: a.logger.Named("memory")}
	if m := a.Memory; m != nil {
		cfg.EmbedModel = repl.ReplaceAll(m.EmbedModel, "")
		cfg.ExtractModel = repl.ReplaceAll(m.ExtractModel, "")
		cfg.EmbedDimensions = m.EmbedDimensions
		cfg.MaxItemsPerUser = m.MaxItemsPerUser
		cfg.QueueSize = m.QueueSize
		cfg.Workers = m.Workers
		cfg.DuplicateSimilarity = m.DuplicateSimilarity
		cfg.TokenBudget = m.TokenBudget
		cfg.RecallTimeout = time.Duration(m.RecallTimeout)
		cfg.Attempts = m.Attempts
		cfg.RetryBackoff = time.Duration(m.RetryBackoff)
		cfg.SweepInterval = time.Duration(m.SweepInterval)
	}
	a.memory = memory.New(cfg)
	if a.memory.Enabled() {
		go a.memory.Run(ctx)
	}
}

// MemoryService returns the users' memory.
func (a *App) MemoryService() *memory.Service { return a.memory }
