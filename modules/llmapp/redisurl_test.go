package llmapp

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRedisURL(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		got, err := parseRedisURL("redis://u:pw@127.0.0.1:6380/2?pool_size=7")
		if err != nil || got.single == nil {
			t.Fatalf("got %+v, %v", got, err)
		}
		if o := got.single; o.Addr != "127.0.0.1:6380" || o.DB != 2 || o.Username != "u" || o.Password != "pw" || o.PoolSize != 7 {
			t.Fatalf("options %+v", o)
		}
	})
	t.Run("unix", func(t *testing.T) {
		got, err := parseRedisURL("unix:///run/redis.sock?db=3")
		if err != nil || got.single == nil || got.single.Network != "unix" || got.single.Addr != "/run/redis.sock" || got.single.DB != 3 {
			t.Fatalf("got %+v, %v", got.single, err)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		got, err := parseRedisURL("rediss+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002?dial_timeout=2s")
		if err != nil || got.cluster == nil {
			t.Fatalf("got %+v, %v", got, err)
		}
		o := got.cluster
		if !slices.Equal(o.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}) || o.Password != "secret" || o.TLSConfig == nil || o.DialTimeout.String() != "2s" {
			t.Fatalf("options %+v", o)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		got, err := parseRedisURL("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379/mymaster/1?sentinel_password=s3")
		if err != nil || got.failover == nil {
			t.Fatalf("got %+v, %v", got, err)
		}
		o := got.failover
		if o.MasterName != "mymaster" || o.DB != 1 || o.Password != "pw" || o.SentinelPassword != "s3" ||
			!slices.Equal(o.SentinelAddrs, []string{"10.0.0.1:26379", "10.0.0.2:26379"}) {
			t.Fatalf("options %+v", o)
		}
	})
	for _, bad := range []string{
		"127.0.0.1:6379",
		"http://127.0.0.1:6379",
		"redis+cluster://",
		"redis+cluster://127.0.0.1:7000/1",
		"redis+sentinel://127.0.0.1:26379",
		"redis+sentinel://127.0.0.1:26379/m/1/x",
		"redis+cluster://127.0.0.1:7000?bogus=1",
		"redis://:topsecret@[::1",
	} {
		if _, err := parseRedisURL(bad); err == nil {
			t.Errorf("%q: no error", bad)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%q: error quotes the password: %v", bad, err)
		}
	}
}
