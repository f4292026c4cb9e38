package mock

import (
	"context"
	"hash/fnv"
	"math"
	"strings"
	"unicode"

	"github.com/caddy-llm/gateway/handlers/memory/memprompt"
	wire "github.com/caddy-llm/gateway/handlers/openai"
	"github.com/caddy-llm/gateway/handlers/provider"
)

// DefaultEmbeddingDimensions is the length of the mock's vectors when a
// request does not ask for another.
const DefaultEmbeddingDimensions = 256

// Embeddings implements provider.Embedder with every model the mock serves,
// deterministically and offline: feature hashing of the text's words. Each
// word (lowercased letters and digits; a few very common English words
// such as "the", "I", "is" are left out, so that they do not make every
// sentence alike) adds ±1 to the coordinate its FNV-1a hash picks, and the
// vector is scaled to unit length. Texts that share words are therefore
// similar by cosine, as with a real embedding model, only coarser. The
// request's dimensions are honoured (default 256). Usage counts one token
// per word.
func (p *Provider) Embeddings(_ context.Context, req *provider.EmbeddingRequest) (*provider.Embeddings, error) {
	dims := req.Dimensions
	if dims <= 0 {
		dims = DefaultEmbeddingDimensions
	}
	out := &provider.Embeddings{Vectors: make([][]float32, len(req.Inputs))}
	for i, text := range req.Inputs {
		var words int
		out.Vectors[i], words = HashEmbedding(text, dims)
		out.PromptTokens += words
	}
	return out, nil
}

// HashEmbedding returns the mock's unit vector of text with dims
// coordinates, and the number of words in text.
func HashEmbedding(text string, dims int) ([]float32, int) {
	v := make([]float32, dims)
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	features := 0
	for _, w := range words {
		w = strings.Trim(w, "'")
		if w == "" || stopWords[w] {
			continue
		}
		addFeature(v, w)
		features++
	}
	if features == 0 {
		// Only common words, or none at all: the whole text is one
		// feature, so that the vector still has unit length.
		addFeature(v, strings.TrimSpace(text))
	}
	var norm float64
	for _, x := range v {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		// The words' signs cancelled out (likely with few dimensions):
		// the text's own coordinate, so that the vector has unit length.
		h := fnv.New64a()
		_, _ = h.Write([]byte(text))
		v[h.Sum64()%uint64(dims)] = 1
		return v, len(words)
	}
	scale := float32(1 / math.Sqrt(norm))
	for i := range v {
		v[i] *= scale
	}
	return v, len(words)
}

func addFeature(v []float32, feature string) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(feature))
	sum := h.Sum64()
	i := int(sum % uint64(len(v)))
	if sum>>63 == 1 {
		v[i]--
	} else {
		v[i]++
	}
}

// stopWords are left out of the mock's embeddings.
var stopWords = map[string]bool{
	"a": true, "an": true, "the": true, "and": true, "or": true, "but": true,
	"of": true, "to": true, "in": true, "on": true, "at": true, "for": true, "with": true,
	"is": true, "are": true, "am": true, "was": true, "be": true, "do": true, "does": true,
	"i": true, "i'm": true, "me": true, "my": true, "you": true, "your": true, "it": true,
	"what": true, "which": true, "who": true, "how": true, "this": true, "that": true,
}

// extractionAnswer is the mock's answer to a memory extraction request
// (see memprompt): ok is false for any other request.
func extractionAnswer(r *wire.ChatCompletionRequest) (string, bool) {
	if len(r.Messages) == 0 || r.Messages[0].Role != wire.RoleSystem {
		return "", false
	}
	if !strings.HasPrefix(r.Messages[0].Content.PlainText(), memprompt.Marker) {
		return "", false
	}
	return memprompt.Mock(lastUserText(r)), true
}

// Interface guard
var _ provider.Embedder = (*Provider)(nil)
