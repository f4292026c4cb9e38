package llmapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	ReadURL        string        // a read replica; empty for none
	ReadWindow     time.Duration // read-your-writes window on the primary
}

type pooledStore struct{ store.Store }

func (p pooledStore) Destruct() error { return p.Store.Close() }

func acquireStore(ctx context.Context, key storeKey, logger *zap.Logger) (store.Store, error) {
	val, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		if key.URL == "" {
			return pooledStore{memory.New()}, nil
		}
		st, err := postgres.Open(ctx, postgres.Config{
			URL:                  key.URL,
			MaxConns:             key.MaxConns,
			MinConns:             key.MinConns,
			ConnectTimeout:       key.ConnectTimeout,
			QueryTimeout:         key.QueryTimeout,
			Logger:               logger,
			OnUnavailable:        metrics.StoreError,
			ReadURL:              key.ReadURL,
			ReadYourWritesWindow: key.ReadWindow,
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
// client, across reloads. health is a client of its own for readiness
// checks, one connection per node. Both are a *redis.Client for one server
// or Sentinel, a *redis.ClusterClient for Redis Cluster.
type pooledRedis struct {
	client  redis.UniversalClient
	health  redis.UniversalClient
	limiter *ratelimit.RedisLimiter
}

func (p pooledRedis) Destruct() error {
	return errors.Join(p.client.Close(), p.health.Close())
}

func acquireRedis(key redisKey, logger *zap.Logger) (pooledRedis, error) {
	val, _, err := redisPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		target, err := parseRedisURL(key.URL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis_url: %w", err)
		}
		client, health := target.clients(key)
		return pooledRedis{
			client:  client,
			health:  health,
			limiter: ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: "llmgw:rl:", Timeout: key.Timeout, Logger: logger}),
		}, nil
	})
	if err != nil {
		return pooledRedis{}, err
	}
	return val.(pooledRedis), nil
}

// clients builds the rate limiter's client and the health client.
//
// The limiter's: dial a few connections at start, since a burst against a
// cold pool would otherwise spend its first decisions connecting, past the
// per-call timeout. The rate limiter decides within tens of milliseconds or
// fails by policy: retries would only add latency to a dead Redis. At most
// PoolSize decisions talk to Redis at once (the limiter's MaxInFlight
// defaults to it); the others wait their turn for up to
// ratelimit.DefaultRedisQueueWait, so a burst of requests queues instead of
// failing on a drained pool.
//
// The health client pings on a connection of its own (per node), with a
// deadline of a health check rather than of a rate limit decision.
func (t redisTarget) clients(key redisKey) (client, health redis.UniversalClient) {
	healthDial := max(key.DialTimeout, time.Second)
	switch {
	case t.cluster != nil:
		opts := t.cluster
		if key.PoolSize > 0 {
			opts.PoolSize = key.PoolSize
		}
		opts.DialTimeout = key.DialTimeout
		h := *opts
		opts.MinIdleConns = 4
		ratelimit.TuneClusterOptions(opts, key.Timeout)
		h.PoolSize, h.MinIdleConns, h.ContextTimeoutEnabled, h.MaxRetries = 1, 0, true, -1
		h.PoolTimeout, h.DialTimeout = time.Second, healthDial
		cc := redis.NewClusterClient(opts)
		go warmCluster(cc)
		return cc, redis.NewClusterClient(&h)
	case t.failover != nil:
		opts := t.failover
		if key.PoolSize > 0 {
			opts.PoolSize = key.PoolSize
		}
		opts.DialTimeout = key.DialTimeout
		h := *opts
		opts.MinIdleConns = 4
		ratelimit.TuneFailoverOptions(opts, key.Timeout)
		h.PoolSize, h.MinIdleConns, h.ContextTimeoutEnabled, h.MaxRetries = 1, 0, true, -1
		h.PoolTimeout, h.DialTimeout = time.Second, healthDial
		return redis.NewFailoverClient(opts), redis.NewFailoverClient(&h)
	default:
		opts := t.single
		if key.PoolSize > 0 {
			opts.PoolSize = key.PoolSize
		}
		opts.DialTimeout = key.DialTimeout
		h := *opts
		opts.MinIdleConns = 4
		ratelimit.TuneRedisOptions(opts, key.Timeout)
		h.PoolSize, h.MinIdleConns, h.ContextTimeoutEnabled, h.MaxRetries = 1, 0, true, -1
		h.PoolTimeout, h.DialTimeout = time.Second, healthDial
		return redis.NewClient(opts), redis.NewClient(&h)
	}
}

// warmCluster loads a new cluster client's slot map and opens its
// connections to every master. Until then the client would do it on the
// first decisions, under their deadline of tens of milliseconds: a burst
// against a freshly started gateway would fail them all and open the
// circuit breaker.
func warmCluster(cc *redis.ClusterClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return node.Ping(ctx).Err()
	})
}

// pingRedis checks a health client: every master of a cluster must answer,
// since the keys of the master that does not are limited in process only.
func pingRedis(ctx context.Context, c redis.UniversalClient) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		if err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return node.Ping(ctx).Err()
		}); err != nil {
			return err
		}
		// A cluster whose slots are not all served reports it here, even
		// when every master it knows of answers.
		info, err := cc.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("redis cluster state is not ok")
		}
		return nil
	}
	return c.Ping(ctx).Err()
}

func releaseRedis(key redisKey) {
	_, _ = redisPool.Delete(key)
}
