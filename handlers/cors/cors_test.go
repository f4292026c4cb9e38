package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNewPolicyRejectsBadOrigins(t *testing.T) {
	for _, origins := range [][]string{
		{"app.example.com"},
		{"https://app.example.com/path"},
		{"ftp://app.example.com"},
		{"https://user@app.example.com"},
		{"*", "https://app.example.com"},
	} {
		if _, err := NewPolicy(origins, 0); err == nil {
			t.Errorf("NewPolicy(%q) accepted", origins)
		}
	}
	p, err := NewPolicy([]string{"https://App.Example.com/", "http://localhost:3000"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !p.allows("https://app.example.com") || !p.allows("http://localhost:3000") || p.allows("http://localhost:3001") {
		t.Errorf("origins not matched as normalized: %v", p.origins)
	}
}

func TestHandle(t *testing.T) {
	p, _ := NewPolicy([]string{"https://app.example.com"}, 0)
	tests := []struct {
		name       string
		method     string
		headers    map[string]string
		answered   bool
		wantOrigin string
		wantAllow  string
	}{
		{"no origin", "GET", nil, false, "", ""},
		{"allowed request", "GET", map[string]string{"Origin": "https://app.example.com"}, false, "https://app.example.com", ""},
		{"other origin", "GET", map[string]string{"Origin": "https://evil.example.com"}, false, "", ""},
		{"preflight", "OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "Authorization, X-Api-Key"}, true, "https://app.example.com", "Authorization, X-Api-Key"},
		{"preflight with junk headers", "OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "a\r\nSet-Cookie: x"}, true, "https://app.example.com", ""},
		{"preflight of another origin", "OPTIONS", map[string]string{"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}, true, "", ""},
		{"plain OPTIONS", "OPTIONS", map[string]string{"Origin": "https://app.example.com"}, false, "https://app.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/v1/models", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			if got := p.Handle(w, r); got != tt.answered {
				t.Fatalf("answered = %v, want %v", got, tt.answered)
			}
			if tt.answered && w.Code != http.StatusNoContent {
				t.Errorf("preflight status %d", w.Code)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Allow-Origin = %q, want %q", got, tt.wantOrigin)
			}
			if got := w.Header().Get("Access-Control-Allow-Headers"); got != tt.wantAllow {
				t.Errorf("Allow-Headers = %q, want %q", got, tt.wantAllow)
			}
			if tt.wantOrigin != "" && w.Header().Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("explicit origin without Allow-Credentials")
			}
		})
	}
}

func TestHandleOff(t *testing.T) {
	p, _ := NewPolicy(nil, 0)
	r := httptest.NewRequest("OPTIONS", "/v1/models", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "GET")
	w := httptest.NewRecorder()
	if p.Handle(w, r) || len(w.Header()) != 0 {
		t.Fatalf("CORS off answered or set headers: %v", w.Header())
	}
}
