package media

import (
	"strings"
	"testing"
)

func TestReference(t *testing.T) {
	tests := []struct {
		url    string
		wantID string // "" when url is not a reference
	}{
		{"jan_01hqr8v9k2x3f4g5h6j7k8m9n0", "jan_01hqr8v9k2x3f4g5h6j7k8m9n0"},
		{"jan_A1", "jan_A1"},
		{"data:image/png;jan_01hqr8v9k2", "jan_01hqr8v9k2"},
		{"data:image/jpeg;jan_01k9ycv6vz6gyb591axgsy9man", "jan_01k9ycv6vz6gyb591axgsy9man"},
		{"data:image/png;jan_01hq,ignored", "jan_01hq"},
		{"data:jan_01hq", "jan_01hq"},
		{"jan_", ""},
		{"jan_01 hq", ""},
		{"jan_01/hq", ""},
		{"xjan_01hq", ""},
		{"https://example.com/jan_01hq.png", ""},
		{"https://example.com/image.png?id=jan_01hq", ""},
		{"data:image/png;base64,amFuXzAxaHE=", ""},
		{"data:image/png;base64,jan_01hq", ""}, // in the payload, not the header
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			id, ok := Reference(tt.url)
			if ok != (tt.wantID != "") || id != tt.wantID {
				t.Fatalf("Reference(%q) = %q, %v; want %q", tt.url, id, ok, tt.wantID)
			}
		})
	}
}

func TestHasReferences(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"plain text", `{"model":"m","messages":[{"role":"user","content":"hello"}]}`, false},
		{"jan_ in text only", `{"model":"m","messages":[{"role":"user","content":"what is jan_01hq?"}]}`, false},
		{"jan_ in a text part", `{"messages":[{"role":"user","content":[{"type":"text","text":"jan_01hq"}]}]}`, false},
		{"jan_ outside messages", `{"model":"jan_01hq","messages":[{"role":"user","content":"hi"}]}`, false},
		{"http image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/jan_01hq.png"}}]}]}`, false},
		{"bare id", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"jan_01hq"}}]}]}`, true},
		{"data url id", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;jan_01hq"}}]}]}`, true},
		{"image_url as a string", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":"jan_01hq"}]}]}`, true},
		{"second message", `{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"t"},{"type":"image_url","image_url":{"url":"jan_01hq","detail":"low"}}]}]}`, true},
		{"messages not an array", `{"messages":"jan_01hq"}`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasReferences([]byte(tt.body)); got != tt.want {
				t.Fatalf("HasReferences = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkHasReferences measures the check every chat request pays; a body
// without references must not allocate.
func BenchmarkHasReferences(b *testing.B) {
	body := []byte(`{"model":"jan-v1-4b","messages":[{"role":"user","content":"` +
		strings.Repeat("Tell me a story about a lighthouse. ", 100) + `"}],"max_tokens":100}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if HasReferences(body) {
			b.Fatal("unexpected reference")
		}
	}
}
