package llmapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/ratelimit"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
	"github.com/caddy-llm/gateway/store/postgres"
)

func init() {
	// go-redis prints every failed dial through its own global logger;
	// while Redis is down that would be a line per request. The limiter
	// reports outages itself, at most once per interval.
	redis.SetLogger(quietRedisLogger{})
}

type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}

// Long-lived resources are shared across config reloads through usage pools
// keyed by their settings: a reload that keeps the settings keeps the
// resource (and its connections and caches); one that changes them builds a
// new one and the old one is closed after its last user is gone.
var (
	storePool = caddy.NewUsagePool()
	redisPool = caddy.NewUsagePool()
)

// storeKey identifies one store configuration. The embedded store has the
// zero key, so every config without a database shares one in-memory store
// for the life of the process: a reload keeps its data.
type storeKey struct {
	URL            string
	MaxConns       int32
	MinConns       int32
	ConnectTimeout time.Duration
	QueryTimeout   time.Duration
}

type pooledStore struct{ store.Store }

func (p pooledStore) Destruct() error { return p.Store.Close() }

func acquireStore(ctx context.Context, key storeKey, logger *zap.Logger) (store.Store, error) {
	val, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		if key.URL == "" {
			return pooledStore{memory.New()}, nil
		}
		st, err := postgres.Open(ctx, postgres.Config{
			URL:            key.URL,
			MaxConns:       key.MaxConns,
			MinConns:       key.MinConns,
			ConnectTimeout: key.ConnectTimeout,
			QueryTimeout:   key.QueryTimeout,
			Logger:         logger,
			OnUnavailable:  metrics.StoreError,
		})
		if err != nil {
			return nil, err
		}
		return pooledStore{st}, nil
	})
	if err != nil {
		// No Delete: LoadOrNew already dropped the failed entry, and a
		// Delete could release a newer entry that another caller made
		// under the same key meanwhile. The same holds for every pool.
		return nil, err
	}
	return val.(pooledStore).Store, nil
}

func releaseStore(key storeKey) {
	_, _ = storePool.Delete(key)
}

// redisKey identifies one Redis client configuration.
type redisKey struct {
	URL         string
	PoolSize    int
	DialTimeout time.Duration
	Timeout     time.Duration
}

// pooledRedis is a Redis client with the rate limiter on it; the limiter's
// circuit breaker and in-process copy of the buckets live as long as the
// client, across reloads. health is a one-connection client of its own for
// readiness checks.
type pooledRedis struct {
	client  *redis.Client
	health  *redis.Client
	limiter *ratelimit.RedisLimiter
}

func (p pooledRedis) Destruct() error {
	return errors.Join(p.client.Close(), p.health.Close())
}

func acquireRedis(key redisKey, logger *zap.Logger) (pooledRedis, error) {
	val, _, err := redisPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts, err := redis.ParseURL(key.URL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis_url: %w", err)
		}
		if key.PoolSize > 0 {
			opts.PoolSize = key.PoolSize
		}
		opts.DialTimeout = key.DialTimeout
		healthOpts := *opts
		// Dial a few connections at start: a burst against a cold pool
		// would otherwise spend its first decisions connecting, past the
		// per-call timeout.
		opts.MinIdleConns = 4
		// The rate limiter decides within tens of milliseconds or fails
		// by policy: retries would only add latency to a dead Redis. At
		// most PoolSize decisions talk to Redis at once (the limiter's
		// MaxInFlight defaults to it); the others wait their turn for up
		// to ratelimit.DefaultRedisQueueWait, so a burst of requests
		// queues instead of failing on a drained pool.
		ratelimit.TuneRedisOptions(opts, key.Timeout)
		client := redis.NewClient(opts)
		// Readiness pings on a connection of its own, with a deadline of
		// a health check rather than of a rate limit decision.
		healthOpts.PoolSize, healthOpts.MinIdleConns = 1, 0
		healthOpts.ContextTimeoutEnabled = true
		healthOpts.MaxRetries = -1
		healthOpts.PoolTimeout = time.Second
		healthOpts.DialTimeout = max(key.DialTimeout, time.Second)
		return pooledRedis{
			client:  client,
			health:  redis.NewClient(&healthOpts),
			limiter: ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: "llmgw:rl:", Timeout: key.Timeout, Logger: logger}),
		}, nil
	})
	if err != nil {
		return pooledRedis{}, err
	}
	return val.(pooledRedis), nil
}

func releaseRedis(key redisKey) {
	_, _ = redisPool.Delete(key)
}
