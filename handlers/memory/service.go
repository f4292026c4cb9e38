package memory

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/store"
)

// Defaults of a Config.
const (
	// DefaultMaxItemsPerUser caps a user's items: retrieval compares the
	// new message with every one of them (exact cosine in Go), and the
	// cache keeps them in memory. Episodic items roll at the cap; new facts
	// are refused (the user API answers 409) until the user forgets some.
	DefaultMaxItemsPerUser = 1000
	// DefaultQueueSize bounds the turns waiting in the process to be
	// recorded, and those waiting for a worker (more wait in the store).
	DefaultQueueSize = 256
	// DefaultWorkers is the number of observation workers.
	DefaultWorkers = 1
	// DefaultDuplicateSimilarity is the cosine above which a new fact
	// replaces an older one of the same kind (and project).
	DefaultDuplicateSimilarity = 0.9
	// DefaultTokenBudget bounds the memory system message, in tokens
	// (estimated as 4 characters each).
	DefaultTokenBudget = 500
	// DefaultRecallTimeout bounds the embedding call of a recall.
	DefaultRecallTimeout = 3 * time.Second
	// DefaultExtractTimeout bounds one extraction call.
	DefaultExtractTimeout = 60 * time.Second
	// DefaultAttempts is how often an observation's upstream calls are
	// tried before the turn is given up.
	DefaultAttempts = 3
	// DefaultRetryBackoff is the pause before the second attempt; it
	// doubles for each further one.
	DefaultRetryBackoff = 2 * time.Second
	// DefaultMaxCachedUsers bounds the users whose vectors are cached.
	DefaultMaxCachedUsers = 1024
	// DefaultMaxCacheBytes bounds the memory the cached vectors take (1,000
	// items of 1,536 dimensions weigh some 6 MB).
	DefaultMaxCacheBytes = 256 << 20
)

// Config configures a Service.
type Config struct {
	// Store keeps the items and the settings. Required.
	Store store.Store
	// Router routes the embedding and extraction calls. Required.
	Router *provider.Router
	// EmbedModel is the public model that embeds messages and items. Empty
	// turns memory off: nothing is recalled nor observed, and items added
	// through the API are stored without a vector.
	EmbedModel string
	// ExtractModel is the chat model that extracts facts from turns. Empty
	// turns observation off.
	ExtractModel string
	// EmbedDimensions asks the embedding model for vectors of this length
	// (models that support it, such as OpenAI's text-embedding-3, shorten
	// theirs; the mock honours any); zero keeps the model's own. Shorter
	// vectors make the cache smaller and recall faster. Changing it (or
	// the model) leaves existing items unrecalled until their text
	// changes: vectors of other lengths are not compared.
	EmbedDimensions int
	// MaxItemsPerUser, QueueSize, Workers, DuplicateSimilarity,
	// TokenBudget, RecallTimeout, ExtractTimeout, Attempts, RetryBackoff,
	// MaxCachedUsers, MaxCacheBytes, SweepInterval and ClaimLease default
	// to the constants above (and in queue.go).
	MaxItemsPerUser     int
	QueueSize           int
	Workers             int
	DuplicateSimilarity float64
	TokenBudget         int
	RecallTimeout       time.Duration
	ExtractTimeout      time.Duration
	Attempts            int
	RetryBackoff        time.Duration
	MaxCachedUsers      int
	MaxCacheBytes       int
	SweepInterval       time.Duration
	ClaimLease          time.Duration
	// Logger receives failures (never message content). Nil logs nothing.
	Logger *zap.Logger
}

// Service is the memory of the gateway's users: it recalls (Recall) and
// observes (Observe, with the workers of Run) turns for
// conversation.Recorder, and embeds the items of the user API.
type Service struct {
	cfg    Config
	logger *zap.Logger
	warner *warner // the warnings that could repeat with every turn
	cache  *vectorCache
	// intake takes the turns Observe is given; work holds the turns for
	// the workers (queue.go).
	intake chan conversation.Observation
	work   chan job
	// embedRefusedUntil (Unix nanoseconds) is set when the embedding model
	// refused to embed (it is a chat model, say): until then memory rests,
	// rather than paying a failing call, and an extraction, on every turn.
	embedRefusedUntil atomic.Int64
}

// embedRefusalPause is how long memory rests after the embedding model
// refused a request as one it cannot serve.
const embedRefusalPause = time.Minute

// New returns a service for cfg. Call Run to start its observation
// workers.
func New(cfg Config) *Service {
	positive(&cfg.MaxItemsPerUser, DefaultMaxItemsPerUser)
	positive(&cfg.QueueSize, DefaultQueueSize)
	positive(&cfg.Workers, DefaultWorkers)
	positive(&cfg.TokenBudget, DefaultTokenBudget)
	positive(&cfg.RecallTimeout, DefaultRecallTimeout)
	positive(&cfg.ExtractTimeout, DefaultExtractTimeout)
	positive(&cfg.Attempts, DefaultAttempts)
	positive(&cfg.RetryBackoff, DefaultRetryBackoff)
	positive(&cfg.MaxCachedUsers, DefaultMaxCachedUsers)
	positive(&cfg.MaxCacheBytes, DefaultMaxCacheBytes)
	positive(&cfg.SweepInterval, DefaultSweepInterval)
	positive(&cfg.ClaimLease, DefaultClaimLease)
	if cfg.DuplicateSimilarity <= 0 || cfg.DuplicateSimilarity > 1 {
		cfg.DuplicateSimilarity = DefaultDuplicateSimilarity
	}
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Service{
		cfg:    cfg,
		logger: logger,
		warner: newWarner(logger),
		cache:  newVectorCache(cfg.Store, cfg.MaxCachedUsers, cfg.MaxCacheBytes, cfg.MaxItemsPerUser),
		intake: make(chan conversation.Observation, cfg.QueueSize),
		work:   make(chan job, cfg.QueueSize),
	}
}

// positive sets *v to def unless it is positive.
func positive[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Enabled reports whether memory is on: an embedding model is configured.
func (s *Service) Enabled() bool { return s != nil && s.cfg.EmbedModel != "" }

// MaxItemsPerUser is the cap of a user's items.
func (s *Service) MaxItemsPerUser() int { return s.cfg.MaxItemsPerUser }

// served reports whether the router serves the model now.
func (s *Service) served(model string) bool {
	_, ok := s.cfg.Router.Model(model)
	return ok
}

// resting reports whether memory rests after its embedding model refused
// to embed (see embedRefusedUntil).
func (s *Service) resting() bool {
	return time.Now().UnixNano() < s.embedRefusedUntil.Load()
}

// errNoEmbedModel means the configured embedding model is not served now
// (its provider is off, say).
var errNoEmbedModel = errors.New("the memory embedding model is not served")

// embed returns the unit vectors of texts with the embedding model.
func (s *Service) embed(ctx context.Context, texts []string) ([][]float32, error) {
	if !s.Enabled() {
		return nil, errNoEmbedModel
	}
	model, ok := s.cfg.Router.Model(s.cfg.EmbedModel)
	if !ok {
		return nil, errNoEmbedModel
	}
	out, _, err := s.cfg.Router.Embeddings(ctx, &provider.EmbeddingRequest{Inputs: texts, Model: model, Dimensions: s.cfg.EmbedDimensions})
	if err != nil {
		var perr *provider.Error
		if errors.As(err, &perr) && (perr.Kind == provider.KindBadRequest || perr.Kind == provider.KindNotFound || perr.Kind == provider.KindAuth) {
			s.embedRefusedUntil.Store(time.Now().Add(embedRefusalPause).UnixNano())
			s.warner.warn("the memory embedding model refused to embed; memory rests for a minute (is it an embedding model?)",
				zap.String("model", s.cfg.EmbedModel), zap.String("kind", perr.Kind.String()), zap.Int("upstream_status", perr.Status))
		}
		return nil, err
	}
	for _, v := range out.Vectors {
		normalize(v)
	}
	return out.Vectors, nil
}

// normalize scales v to unit length in place, so that cosine is a dot
// product.
func normalize(v []float32) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return
	}
	scale := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= scale
	}
}

// cosine returns the cosine of two unit vectors, 0 when their lengths
// differ.
func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return float64(s)
}
