package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/internal/upstream"
)

// embeddingsBody is the upstream request of POST …/embeddings. Vectors are
// always asked for as floats: they are checked and passed on as numbers,
// whatever encoding the client asked the gateway for.
type embeddingsBody struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

// embeddingsAnswer is what is read of an upstream's answer.
type embeddingsAnswer struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
}

// Embeddings implements provider.Embedder: POST {base_url}/embeddings, as
// OpenAI, vLLM (serving an embedding model) and most OpenAI-compatible
// servers answer it. The answer must hold one vector per input, all of one
// length; anything else is an upstream error (502).
func (p *Provider) Embeddings(ctx context.Context, req *provider.EmbeddingRequest) (*provider.Embeddings, error) {
	ctx, wd := provider.NewWatchdog(ctx, p.cfg.FirstByteTimeout)
	defer wd.Stop()
	body, err := json.Marshal(embeddingsBody{Model: req.UpstreamModel, Input: req.Inputs, EncodingFormat: "float", Dimensions: req.Dimensions})
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: errors.New("encoding the upstream request failed")}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.embeddingsURL, bytes.NewReader(body))
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindServer, Err: errors.New("building the upstream request failed")}
	}
	hreq.Header = p.header.Clone()
	hreq.Header["Accept"] = acceptJSON
	upstream.SetTrace(hreq.Header, &provider.Request{TraceParent: req.TraceParent, TraceState: req.TraceState, RequestID: req.RequestID})
	raw, err := upstream.Fetch(ctx, p.client, hreq, wd, p.cfg.IdleTimeout, req.UpstreamModel, req.Model.ID, p.cfg.APIKey)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error {
		return &provider.Error{Kind: provider.KindServer, Status: http.StatusOK, Err: errors.New(why)}
	}
	var ans embeddingsAnswer
	if !jsonguard.WithinDepth(raw) || json.Unmarshal(raw, &ans) != nil {
		return nil, bad("upstream answer is not an embeddings list")
	}
	if len(ans.Data) != len(req.Inputs) {
		return nil, bad("upstream answer does not have one embedding per input")
	}
	out := &provider.Embeddings{Vectors: make([][]float32, len(req.Inputs)), PromptTokens: ans.Usage.PromptTokens}
	for _, d := range ans.Data {
		if d.Index < 0 || d.Index >= len(out.Vectors) || out.Vectors[d.Index] != nil || len(d.Embedding) == 0 {
			return nil, bad("upstream answer has a missing, repeated or empty embedding")
		}
		if len(d.Embedding) != len(ans.Data[0].Embedding) {
			return nil, bad("upstream embeddings differ in length")
		}
		out.Vectors[d.Index] = d.Embedding
	}
	return out, nil
}

// Interface guard
var _ provider.Embedder = (*Provider)(nil)
