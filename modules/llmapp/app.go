// Package llmapp is the `llm` Caddy app: it owns the resources every LLM
// handler shares (the store, the Redis client, the token service, the
// provider router) and keeps them alive across config reloads.
package llmapp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/auth"
	"github.com/caddy-llm/gateway/handlers/mcp"
	"github.com/caddy-llm/gateway/handlers/media"
	"github.com/caddy-llm/gateway/handlers/memory"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults of the app's settings.
const (
	defaultDBMaxConns       = 20
	defaultDBConnectTimeout = 5 * time.Second
	defaultDBQueryTimeout   = 5 * time.Second
	defaultRedisTimeout     = 50 * time.Millisecond
	defaultRedisDialTimeout = 250 * time.Millisecond
)

// App is the `llm` app. It is configured with the global option `llm { … }`
// and used by the `llm_auth`, `llm_rate_limit` and `llm_api` handlers. When
// no `llm` option is given, the handlers get an app with embedded defaults:
// an in-memory store and no Redis.
type App struct {
	// DatabaseURL is the PostgreSQL connection URL. Empty selects the
	// embedded in-memory store, whose data does not survive a restart. It
	// may hold runtime placeholders ({env.DATABASE_URL}), which keep the
	// password out of the JSON config, and several space-separated
	// candidates, of which the first non-empty one is used.
	DatabaseURL string `json:"database_url,omitempty"`
	// DatabaseMaxConns bounds the PostgreSQL connection pool (default 20).
	DatabaseMaxConns int32 `json:"database_max_conns,omitempty"`
	// DatabaseMinConns is the number of idle connections kept open.
	DatabaseMinConns int32 `json:"database_min_conns,omitempty"`
	// DatabaseConnectTimeout bounds opening a connection (default 5s).
	DatabaseConnectTimeout caddy.Duration `json:"database_connect_timeout,omitempty"`
	// DatabaseQueryTimeout bounds every query (default 5s).
	DatabaseQueryTimeout caddy.Duration `json:"database_query_timeout,omitempty"`
	// DatabaseReadURL is an optional streaming replica of DatabaseURL
	// that serves the list and get reads of conversations, items, projects
	// and settings; writes, authentication and migrations stay on the
	// primary, and a user's reads stay there for
	// DatabaseReadYourWritesWindow after that user's write through this
	// process. While the replica does not answer, reads go to the primary
	// (readiness reports "degraded"). Placeholders and candidates work as
	// for DatabaseURL; empty means no replica.
	DatabaseReadURL string `json:"database_read_url,omitempty"`
	// DatabaseReadYourWritesWindow is how long a user's reads stay on the
	// primary after that user's write (default 5s). It should exceed the
	// replica's usual replay lag.
	DatabaseReadYourWritesWindow caddy.Duration `json:"database_read_your_writes_window,omitempty"`

	// RedisURL is the Redis URL (redis:// or rediss://). Empty means no
	// Redis: rate limits are kept in process, exact for one node only.
	// Placeholders and candidates work as for DatabaseURL.
	RedisURL string `json:"redis_url,omitempty"`
	// RedisPoolSize bounds the Redis connection pool (default: go-redis's).
	RedisPoolSize int `json:"redis_pool_size,omitempty"`
	// RedisTimeout bounds every Redis command (default 50ms): a slow Redis
	// must not stall requests.
	RedisTimeout caddy.Duration `json:"redis_timeout,omitempty"`
	// RedisDialTimeout bounds connecting to Redis (default 250ms).
	RedisDialTimeout caddy.Duration `json:"redis_dial_timeout,omitempty"`

	// Auth configures authentication: gateway tokens, API keys, OIDC.
	Auth *AuthConfig `json:"auth,omitempty"`

	// Usage configures usage metering, prices, the usage API and token
	// limits (usage.go). Nil: metering on with defaults, no limits.
	Usage *UsageConfig `json:"usage,omitempty"`

	// MCP configures the MCP endpoint's upstream tool servers.
	MCP *MCPConfig `json:"mcp,omitempty"`
	// MediaResolveURL is the media service resolving jan_… image
	// references (the spec's MEDIA_RESOLVE_URL); candidates and runtime
	// placeholders work as for DatabaseURL.
	MediaResolveURL string `json:"media_resolve_url,omitempty"`
	// MediaResolveTimeout bounds a resolution (default 5s).
	MediaResolveTimeout caddy.Duration `json:"media_resolve_timeout,omitempty"`

	// Providers are the model providers. None configured means the
	// built-in mock provider.
	Providers []ProviderConfig `json:"providers,omitempty"`
	// Models are the public models and their deployments. Models the
	// providers declare or discover are served without being listed here.
	Models []ModelConfig `json:"models,omitempty"`
	// ModelAliases serve a model under more public ids: alias → the id a
	// provider serves it by (for example jan-v1-4b → janhq/Jan-v1-4B, as
	// discovered from a vLLM server). See provider.RouterConfig.Aliases.
	ModelAliases map[string]string `json:"model_aliases,omitempty"`
	// DiscoveryInterval is how often providers that discover their models
	// ask their upstream again (default 5m).
	DiscoveryInterval caddy.Duration `json:"discovery_interval,omitempty"`
	// FailureThreshold is the number of consecutive failures after which a
	// deployment cools down (default 3).
	FailureThreshold int `json:"failure_threshold,omitempty"`
	// Cooldown is how long a failing deployment is tried only after the
	// healthy ones (default 30s).
	Cooldown caddy.Duration `json:"cooldown,omitempty"`

	// Memory configures the users' memory and its models (memory.go).
	Memory *MemoryConfig `json:"memory,omitempty"`

	mcp           *mcp.Aggregator
	media         *media.Resolver
	memory        *memory.Service
	router        *provider.Router
	providerKeys  []providerKey
	providerNames []string
	auth          *auth.Service
	authKey       authKey
	store         store.Store
	storeKey      storeKey
	redis         redis.UniversalClient
	limiter       ratelimit.Limiter
	redisKey      redisKey
	gate          *inflightGate
	readiness     *readiness
	logger        *zap.Logger
	routes        *routeTable
	usage         usageState
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "llm",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision acquires the shared resources.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.gate = &inflightGate{onIdle: a.release}
	a.routes = newRouteTable()
	a.readiness = new(readiness)
	if err := metrics.register(ctx); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}

	repl := caddy.NewReplacer()
	databaseURL := firstCandidate(repl, a.DatabaseURL)
	redisURL := firstCandidate(repl, a.RedisURL)
	a.storeKey = storeKey{
		URL:            databaseURL,
		MaxConns:       orDefault(a.DatabaseMaxConns, defaultDBMaxConns),
		MinConns:       a.DatabaseMinConns,
		ConnectTimeout: orDefault(time.Duration(a.DatabaseConnectTimeout), defaultDBConnectTimeout),
		QueryTimeout:   orDefault(time.Duration(a.DatabaseQueryTimeout), defaultDBQueryTimeout),
		ReadURL:        firstCandidate(repl, a.DatabaseReadURL),
		ReadWindow:     time.Duration(a.DatabaseReadYourWritesWindow),
	}
	if databaseURL == "" {
		a.storeKey = storeKey{} // the embedded store has one key whatever the tuning
	}
	st, err := acquireStore(ctx, a.storeKey, a.logger)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	a.store = st

	a.authKey = authKeyFor(a.storeKey, a.Auth)
	svc, err := acquireAuth(a.authKey, st, a.Auth.serviceConfig(a.logger.Named("auth")))
	if err != nil {
		return err // Cleanup, which Caddy calls after a failed Provision, releases the rest
	}
	a.auth = svc

	if redisURL != "" {
		a.redisKey = redisKey{
			URL:         redisURL,
			PoolSize:    a.RedisPoolSize,
			DialTimeout: orDefault(time.Duration(a.RedisDialTimeout), defaultRedisDialTimeout),
			Timeout:     orDefault(time.Duration(a.RedisTimeout), defaultRedisTimeout),
		}
		rc, err := acquireRedis(a.redisKey, a.logger.Named("ratelimit"))
		if err != nil {
			return fmt.Errorf("connecting to redis: %w", err)
		}
		a.redis = rc.client
		a.limiter = rc.limiter
		a.readiness.redis = rc.health
	}

	if err := a.provisionProviders(ctx); err != nil {
		return err
	}
	if err := a.provisionMCP(ctx, repl); err != nil {
		return err
	}
	a.provisionMedia(repl)
	a.provisionMemory(ctx, repl)
	return a.provisionUsage(ctx)
}

// Start logs which parts run embedded, so nobody mistakes the zero-config
// defaults for a durable deployment.
func (a *App) Start() error {
	if a.storeKey.URL == "" {
		a.logger.Warn("using the embedded in-memory store: users, keys and conversations do not survive a restart; set DATABASE_URL for PostgreSQL")
	} else {
		a.logger.Info("using PostgreSQL store", zap.Bool("read_replica", a.storeKey.ReadURL != ""))
	}
	if a.redis == nil {
		a.logger.Warn("no Redis configured: rate limits are kept in process and are exact for this node only; set REDIS_URL to share them")
	} else {
		a.logger.Info("using Redis for rate limits")
	}
	a.logger.Info("model providers", zap.Strings("providers", a.providerNames), zap.Int("models", len(a.router.Models())))
	return nil
}

// Stop does nothing: resources are released in Cleanup, once the old
// config's requests are done.
func (a *App) Stop() error { return nil }

// Cleanup releases the app's shared resources after its last request. Caddy
// also calls it after a failed Provision; release handles what was acquired
// and runs once.
func (a *App) Cleanup() error {
	if a.gate != nil {
		a.gate.close()
	}
	return nil
}

func (a *App) release() {
	a.releaseUsage() // flushes into the store: before the store goes
	if a.mcp != nil {
		_ = a.mcp.Close()
	}
	a.releaseProviders()
	if a.auth != nil {
		releaseAuth(a.authKey)
	}
	if a.store != nil {
		releaseStore(a.storeKey)
	}
	if a.redis != nil {
		releaseRedis(a.redisKey)
	}
}

// Enter marks the start of a request that uses the app's resources; the
// returned func marks its end. Handlers call it so that a reload cannot close
// a resource under a running request.
func (a *App) Enter() (leave func()) {
	a.gate.enter()
	return a.gate.leave
}

// Store returns the store.
func (a *App) Store() store.Store { return a.store }

// AuthService returns the authentication service.
func (a *App) AuthService() *auth.Service { return a.auth }

// Router returns the model router.
func (a *App) Router() *provider.Router { return a.router }

// Metrics returns the gateway's metrics.
func (a *App) Metrics() *Metrics { return metrics }

// Limiter returns the rate limiter: Redis's when Redis is configured, else
// the process's own.
func (a *App) Limiter() ratelimit.Limiter {
	if a.limiter != nil {
		return a.limiter
	}
	return localLimiter
}

// localLimiter keeps in-process rate limits for the life of the process, so
// that a reload does not reset them.
var localLimiter = ratelimit.NewLocal()

// Redis returns the Redis client, or nil when none is configured.
func (a *App) Redis() redis.UniversalClient { return a.redis }

// FromContext returns the llm app of the config being provisioned; modules
// call it in Provision.
func FromContext(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("llm")
	if err != nil {
		return nil, fmt.Errorf("loading llm app: %w", err)
	}
	a, ok := v.(*App)
	if !ok {
		return nil, errors.New("llm app has an unexpected type")
	}
	return a, nil
}

// firstCandidate expands runtime placeholders in a space-separated list of
// candidates and returns the first non-empty one.
func firstCandidate(repl *caddy.Replacer, candidates string) string {
	for _, c := range strings.Fields(candidates) {
		if v := repl.ReplaceAll(c, ""); v != "" {
			return v
		}
	}
	return ""
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
