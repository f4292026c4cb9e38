package llmapp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisTarget is a parsed redis_url: exactly one of its fields is set.
type redisTarget struct {
	single   *redis.Options         // redis://, rediss://, unix://
	cluster  *redis.ClusterOptions  // redis+cluster://, rediss+cluster://
	failover *redis.FailoverOptions // redis+sentinel://, rediss+sentinel://
}

// parseRedisURL parses the forms redis_url accepts:
//
//	redis://[user:password@]host:port[/db][?options]     one server (rediss:// for TLS)
//	unix://[user:password@]/path/to/redis.sock[?db=n]     one server on a socket
//	redis+cluster://[user:password@]host:port[,host:port...][?options]
//	redis+sentinel://[user:password@]host:port[,host:port...]/<master>[/db][?options]
//
// The cluster and sentinel forms list seed nodes (any subset of the
// cluster's nodes) or the sentinels, comma-separated; rediss+cluster:// and
// rediss+sentinel:// use TLS. The user and password authenticate to Redis
// itself (for sentinel: to the master and replicas); a sentinel with a
// password of its own takes sentinel_password=… among the options. The
// options are go-redis's (dial_timeout, pool_size, …, see redis.ParseURL,
// redis.ParseClusterURL and redis.ParseFailoverURL).
func parseRedisURL(raw string) (redisTarget, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redisTarget{}, errors.New("missing scheme (redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://)")
	}
	base, kind, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" || kind != "" && kind != "cluster" && kind != "sentinel" {
		if scheme == "unix" {
			opts, err := redis.ParseURL(raw)
			return redisTarget{single: opts}, redactURLError(err)
		}
		return redisTarget{}, fmt.Errorf("unsupported scheme %q", scheme)
	}
	if kind == "" {
		opts, err := redis.ParseURL(raw)
		return redisTarget{single: opts}, redactURLError(err)
	}

	// Split "[userinfo@]hosts[/path][?query]" by hand: url.Parse does not
	// take a comma-separated list of hosts.
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	path, rawQuery, _ := strings.Cut(tail, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return redisTarget{}, errors.New("invalid query string")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			addrs = append(addrs, h)
		}
	}
	if len(addrs) == 0 {
		return redisTarget{}, errors.New("no host given")
	}
	for _, a := range addrs[1:] {
		query.Add("addr", a)
	}

	if kind == "cluster" {
		if strings.Trim(path, "/") != "" {
			return redisTarget{}, errors.New("a cluster URL takes no path: Redis Cluster has database 0 only")
		}
		u := base + "://" + userinfo + addrs[0] + "?" + query.Encode()
		opts, err := redis.ParseClusterURL(u)
		return redisTarget{cluster: opts}, redactURLError(err)
	}

	// Sentinel: /<master>[/db].
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if parts[0] == "" || len(parts) > 2 {
		return redisTarget{}, errors.New("a sentinel URL needs the master's name as its path: redis+sentinel://host:port/<master>[/db]")
	}
	query.Set("master_name", parts[0])
	if len(parts) == 2 {
		query.Set("db", parts[1])
	}
	sentinelPassword := query.Get("sentinel_password")
	query.Del("sentinel_password")
	// go-redis reads the URL's userinfo as the sentinels' credentials and
	// username=/password= as the master's; the userinfo here means Redis's.
	if userinfo != "" {
		ui, err := url.Parse("redis://" + userinfo + "x")
		if err != nil {
			return redisTarget{}, errors.New("invalid user information")
		}
		if name := ui.User.Username(); name != "" {
			query.Set("username", name)
		}
		if pw, ok := ui.User.Password(); ok {
			query.Set("password", pw)
		}
	}
	opts, err := redis.ParseFailoverURL(base + "://" + addrs[0] + "?" + query.Encode())
	if err != nil {
		return redisTarget{}, redactURLError(err)
	}
	opts.SentinelPassword = sentinelPassword
	return redisTarget{failover: opts}, nil
}

// redactURLError keeps go-redis's message for bad options but drops any
// quoted URL, which may carry a password.
func redactURLError(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("invalid URL")
	}
	return err
}
