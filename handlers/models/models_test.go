package models

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/handlers/provider"
	"github.com/caddy-llm/gateway/handlers/provider/mock"
	"github.com/caddy-llm/gateway/handlers/provider/openai"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	m, err := mock.New(mock.Config{Models: []string{"jan-v1-4b", "Qwen/Qwen3-8B"}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := openai.New(openai.Config{
		ID:       "vllm",
		Name:     "Local vLLM",
		BaseURL:  "https://svc:hunter2@vllm.internal:8000/v1?token=qs-secret",
		APIKey:   "sk-provider-secret",
		Headers:  map[string]string{"X-Secret-Header": "hs-secret"},
		ModelMap: map[string]string{"vision-model": "llava"},
	})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	r, err := provider.NewRouter([]provider.Provider{m, o}, provider.RouterConfig{Models: []provider.ModelConfig{
		{ID: "vision-model", Vision: &yes, ContextLength: 32000, SupportedParameters: []string{"temperature"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&Handler{Router: r}).Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer ok" {
			r = r.WithContext(principal.With(r.Context(), &principal.Principal{UserID: 1}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, method, path string, auth bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer ok")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	return resp.StatusCode, string(body)
}

func TestList(t *testing.T) {
	srv := newServer(t)
	status, body := get(t, srv, http.MethodGet, "/v1/models", true)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.Created == 0 || m.OwnedBy == "" {
			t.Errorf("entry %+v", m)
		}
	}
	if list.Object != "list" || strings.Join(ids, ",") != "Qwen/Qwen3-8B,jan-v1-4b,vision-model" {
		t.Errorf("list %s", body)
	}
}

func TestRetrieveAndCatalog(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		path   string
		status int
		check  func(t *testing.T, m map[string]any)
	}{
		{"/v1/models/Qwen/Qwen3-8B", 200, func(t *testing.T, m map[string]any) {
			if m["id"] != "Qwen/Qwen3-8B" || m["object"] != "model" {
				t.Errorf("model %v", m)
			}
		}},
		{"/v1/models/catalogs/jan-v1-4b", 200, func(t *testing.T, m map[string]any) {
			caps, _ := m["capabilities"].(map[string]any)
			params, _ := m["supported_parameters"].(map[string]any)
			if m["id"] != "jan-v1-4b" || m["context_length"] != float64(mock.DefaultContextLength) || m["max_output_tokens"] != float64(4096) ||
				caps["streaming"] != true || caps["tools"] != true || caps["vision"] != false || len(params["names"].([]any)) == 0 {
				t.Errorf("catalog %v", m)
			}
		}},
		{"/v1/models/catalogs/Qwen/Qwen3-8B", 200, func(t *testing.T, m map[string]any) {
			if m["id"] != "Qwen/Qwen3-8B" || m["public_id"] != "Qwen/Qwen3-8B" {
				t.Errorf("catalog %v", m)
			}
		}},
		{"/v1/models/catalogs/vision-model", 200, func(t *testing.T, m map[string]any) {
			caps, _ := m["capabilities"].(map[string]any)
			if caps["vision"] != true || m["supports_images"] != true || m["context_length"] != float64(32000) || m["max_output_tokens"] != nil {
				t.Errorf("catalog %v", m)
			}
			if names := m["supported_parameters"].(map[string]any)["names"].([]any); len(names) != 1 || names[0] != "temperature" {
				t.Errorf("parameters %v", names)
			}
		}},
		{"/v1/models/catalogs/nope", 404, nil},
		{"/v1/models/nope", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := get(t, srv, http.MethodGet, tt.path, true)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, m)
			} else if e, _ := m["error"].(map[string]any); e["code"] != "not_found" {
				t.Errorf("error %s", body)
			}
		})
	}
}

func TestProvidersShowNoSecret(t *testing.T) {
	srv := newServer(t)
	status, body := get(t, srv, http.MethodGet, "/v1/models/providers", true)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, secret := range []string{"hunter2", "svc:", "qs-secret", "token=", "sk-provider-secret", "hs-secret", "vllm.internal"} {
		if strings.Contains(body, secret) {
			t.Errorf("providers listing shows %q: %s", secret, body)
		}
	}
	var list ProviderList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	want := []ProviderEntry{
		{ID: "mock", Object: "provider", Name: "Mock", Kind: "mock", Vendor: "mock", ModelCount: 2, Active: true},
		{ID: "vllm", Object: "provider", Name: "Local vLLM", Kind: "openai", Vendor: "openai", ModelCount: 1, Active: true},
	}
	if list.Object != "list" || len(list.Data) != 2 || list.Data[0] != want[0] || list.Data[1] != want[1] {
		t.Errorf("providers %+v", list)
	}
}

func TestAuth(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{"/v1/models", "/v1/models/jan-v1-4b", "/v1/models/catalogs/jan-v1-4b", "/v1/models/providers"} {
		if status, body := get(t, srv, http.MethodGet, path, false); status != 401 || !strings.Contains(body, `"code":"unauthorized"`) {
			t.Errorf("GET %s without a principal: %d %s", path, status, body)
		}
	}
}
