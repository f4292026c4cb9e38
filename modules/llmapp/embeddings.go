package llmapp

import (
	"context"

	"github.com/caddy-llm/gateway/handlers/provider"
)

// Embeddings implements provider.Embedder for the pooled provider: it
// forwards to the provider when it can embed, and says it cannot otherwise,
// so that the router passes the deployment over.
func (p *pooledProvider) Embeddings(ctx context.Context, req *provider.EmbeddingRequest) (*provider.Embeddings, error) {
	e, ok := p.Provider.(provider.Embedder)
	if !ok {
		return nil, provider.ErrNoEmbeddings
	}
	return e.Embeddings(ctx, req)
}
