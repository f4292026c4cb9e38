package usage

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-llm/gateway/store"
)

// limitStore answers from limits until down is set, then fails.
type limitStore struct {
	store.UsageLimitStore
	limits store.UsageLimits
	down   atomic.Bool
}

func (s *limitStore) GetUsageLimits(context.Context, int64, int64) (store.UsageLimits, error) {
	if s.down.Load() {
		return store.UsageLimits{}, errors.New("connection refused")
	}
	return s.limits, nil
}

// A database outage keeps the last known limits, and logs one warning,
// not one per user and TTL.
func TestLimitCacheOutageWarnsOnceAndKeepsLastKnown(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	st := &limitStore{limits: store.UsageLimits{TokensPerDay: 7}}
	c := &LimitCache{Store: st, Logger: zap.New(core)}
	if got := c.Get(t.Context(), 1, 0); got.TokensPerDay != 7 {
		t.Fatalf("before the outage: %+v", got)
	}
	c.entries[[2]int64{1, 0}] = limitEntry{limits: c.entries[[2]int64{1, 0}].limits} // expired
	st.down.Store(true)
	if got := c.Get(t.Context(), 1, 0); got.TokensPerDay != 7 {
		t.Errorf("during the outage, the last known limits = %+v, want tokens_per_day 7", got)
	}
	for user := int64(2); user < 200; user++ {
		if got := c.Get(t.Context(), user, 0); got.TokensPerDay != 0 {
			t.Fatalf("user %d never read: %+v, want the defaults", user, got)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Errorf("%d warnings for 199 failed reads, want 1", n)
	}
}
