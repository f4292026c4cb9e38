package memory

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
)

// The mock's model the tests embed and extract with.
const testModel = "jan-v1-4b"

// countingMock is the mock provider, counting its embeddings calls.
type countingMock struct {
	*mock.Provider
	embeddings atomic.Int64
}

func (c *countingMock) Embeddings(ctx context.Context, req *provider.EmbeddingRequest) (*provider.Embeddings, error) {
	c.embeddings.Add(1)
	return c.Provider.Embeddings(ctx, req)
}

// mockRouter returns a router over the mock provider and the mock itself.
func mockRouter(t testing.TB) (*provider.Router, *countingMock) {
	t.Helper()
	m, err := mock.New(mock.Config{Models: []string{testModel}})
	if err != nil {
		t.Fatal(err)
	}
	cm := &countingMock{Provider: m}
	r, err := provider.NewRouter([]provider.Provider{cm}, provider.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return r, cm
}
