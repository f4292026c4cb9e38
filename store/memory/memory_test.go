package memory_test

import (
	"testing"

	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
	"github.com/caddy-llm/gateway/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
