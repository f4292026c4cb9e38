package upstream

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestEndpoint(t *testing.T) {
	tests := []struct{ base, path, want string }{
		{"https://api.openai.com/v1", "chat/completions", "https://api.openai.com/v1/chat/completions"},
		{"http://127.0.0.1:8000/v1/", "models", "http://127.0.0.1:8000/v1/models"},
		{"https://u:p@azure.example.com/openai/deployments/x?api-version=2024-10-21", "chat/completions",
			"https://u:p@azure.example.com/openai/deployments/x/chat/completions?api-version=2024-10-21"},
		{"https://api.anthropic.com", "v1/messages", "https://api.anthropic.com/v1/messages"},
	}
	for _, tt := range tests {
		base, err := ParseBaseURL(tt.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := Endpoint(base, tt.path); got != tt.want {
			t.Errorf("Endpoint(%q, %q) = %q, want %q", tt.base, tt.path, got, tt.want)
		}
	}
	for _, bad := range []string{"", "localhost:8000", "ftp://x", "http://"} {
		if _, err := ParseBaseURL(bad); err == nil {
			t.Errorf("ParseBaseURL(%q) accepted", bad)
		}
	}
}

func TestIsEventStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream":                true,
		"text/event-stream; charset=utf-8": true,
		"Text/Event-Stream":                true,
		"application/json":                 false,
		"":                                 false,
	} {
		if got := IsEventStream(http.Header{"Content-Type": {ct}}); got != want {
			t.Errorf("IsEventStream(%q) = %v", ct, got)
		}
	}
}

func TestReadBody(t *testing.T) {
	if b, err := ReadBody(strings.NewReader("12345"), -1, 5); err != nil || string(b) != "12345" {
		t.Errorf("got %q, %v", b, err)
	}
	if _, err := ReadBody(strings.NewReader("123456"), -1, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	if _, err := ReadBody(strings.NewReader(""), 6, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge for an announced length", err)
	}
}
