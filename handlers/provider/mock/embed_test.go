package mock

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/caddy-llm/gateway/handlers/provider"
)

func TestMockEmbeddings(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	embed := func(dims int, texts ...string) [][]float32 {
		t.Helper()
		out, err := p.Embeddings(context.Background(), &provider.EmbeddingRequest{Inputs: texts, Dimensions: dims})
		if err != nil || len(out.Vectors) != len(texts) {
			t.Fatalf("Embeddings = %v, %v", out, err)
		}
		return out.Vectors
	}
	cos := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	v := embed(0, "I live in Paris.", "i LIVE in paris", "My favourite colour is blue.", "the", "!!!")
	for i, x := range v {
		if len(x) != DefaultEmbeddingDimensions || math.Abs(cos(x, x)-1) > 1e-5 {
			t.Errorf("vector %d: %d dimensions, length² %v; want %d, 1", i, len(x), cos(x, x), DefaultEmbeddingDimensions)
		}
	}
	if !slices.Equal(v[0], v[1]) {
		t.Errorf("case and punctuation change the vector")
	}
	if c := cos(v[0], v[2]); math.Abs(c) > 0.5 {
		t.Errorf("cosine of unrelated texts = %v", c)
	}
	if again := embed(0, "I live in Paris."); !slices.Equal(again[0], v[0]) {
		t.Errorf("not deterministic")
	}
	if short := embed(16, "I live in Paris."); len(short[0]) != 16 || math.Abs(cos(short[0], short[0])-1) > 1e-5 {
		t.Errorf("dimensions 16 gave %d coordinates", len(short[0]))
	}
}

func TestMockEmbeddingsHaveUnitLengthWhateverTheDimensions(t *testing.T) {
	// With few dimensions the words' ±1 often land on one coordinate and
	// cancel out ("hello world" in 4 dimensions did): the vector must
	// still have unit length, or cosine similarity is undefined.
	texts := []string{"hello world", "", "the a an", "I like tea", "compilers and databases", "x y z w v u"}
	for dims := 1; dims <= 16; dims++ {
		for _, text := range texts {
			v, _ := HashEmbedding(text, dims)
			var norm float64
			for _, x := range v {
				norm += float64(x) * float64(x)
			}
			if math.Abs(norm-1) > 1e-5 {
				t.Errorf("HashEmbedding(%q, %d) = %v: squared length %v, want 1", text, dims, v, norm)
			}
		}
	}
}
