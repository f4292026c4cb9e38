package providertest

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
)

// EmbeddingsServer answers POST …/embeddings as OpenAI and vLLM do: one
// vector per input, in order, with usage. Each vector is deterministic: its
// coordinates come from an FNV hash of the input, scaled to unit length.
// Other requests go to Next (an OpenAIServer, say), or get a 404.
type EmbeddingsServer struct {
	// Dimensions is the vectors' length when a request does not ask for
	// one. Default 8.
	Dimensions int
	// Next serves every other request; nil answers 404.
	Next http.Handler
}

func (s *EmbeddingsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/embeddings") {
		if s.Next != nil {
			s.Next.ServeHTTP(w, r)
			return
		}
		WriteJSON(w, http.StatusNotFound, ErrorBody("not found", "invalid_request_error", "not_found"))
		return
	}
	var req struct {
		Model      string   `json:"model"`
		Input      []string `json:"input"`
		Dimensions int      `json:"dimensions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Input) == 0 {
		WriteJSON(w, http.StatusBadRequest, ErrorBody("input must be a non-empty array of strings", "invalid_request_error", "invalid_input"))
		return
	}
	dims := req.Dimensions
	if dims <= 0 {
		dims = s.Dimensions
	}
	if dims <= 0 {
		dims = 8
	}
	data := make([]map[string]any, len(req.Input))
	tokens := 0
	for i, in := range req.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": HashVector(in, dims)}
		tokens += len(strings.Fields(in))
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// HashVector is the EmbeddingsServer's vector of text.
func HashVector(text string, dims int) []float32 {
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		h := fnv.New32a()
		_, _ = h.Write([]byte{byte(i), byte(i >> 8)})
		_, _ = h.Write([]byte(text))
		x := float64(h.Sum32())/math.MaxUint32 - 0.5
		v[i] = float32(x)
		norm += x * x
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(norm))
	}
	return v
}
