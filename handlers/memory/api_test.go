package memory

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
)

const (
	Alice = httpxtest.Alice
	Bob   = httpxtest.Bob
)

// itemJSON is a memory item as a client decodes it.
type itemJSON struct {
	ID             string  `json:"id"`
	Object         string  `json:"object"`
	Kind           string  `json:"kind"`
	Text           string  `json:"text"`
	ProjectID      *string `json:"project_id"`
	ConversationID *string `json:"conversation_id"`
	Source         string  `json:"source"`
	Embedded       bool    `json:"embedded"`
	CreatedAt      int64   `json:"created_at"`
}

type listJSON struct {
	Object  string     `json:"object"`
	Data    []itemJSON `json:"data"`
	HasMore bool       `json:"has_more"`
	LastID  *string    `json:"last_id"`
}

func TestAPI(t *testing.T) {
	for _, impl := range httpxtest.Stores {
		t.Run(impl.Name, func(t *testing.T) {
			st := impl.New(t)
			router, _ := mockRouter(t)
			svc := New(Config{Store: st, Router: router, EmbedModel: testModel, MaxItemsPerUser: 4})
			newServer := func(t *testing.T) *httpxtest.Server {
				return httpxtest.NewServer(t, st, &APIHandler{Store: st, Memory: svc, MaxBodyBytes: 16 << 10})
			}
			t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testAPILifecycle(t, newServer(t)) })
			t.Run("Isolation", func(t *testing.T) { t.Parallel(); testAPIIsolation(t, newServer(t)) })
			t.Run("Hostile", func(t *testing.T) { t.Parallel(); testAPIHostile(t, newServer(t)) })
			t.Run("Full", func(t *testing.T) { t.Parallel(); testAPIFull(t, newServer(t)) })
			t.Run("WithoutMemory", func(t *testing.T) {
				t.Parallel()
				s := httpxtest.NewServer(t, st, &APIHandler{Store: st})
				var it itemJSON
				s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": "I like tea."}).Want(t, http.StatusCreated).Decode(t, &it)
				if it.Embedded {
					t.Fatalf("item embedded with memory off: %+v", it)
				}
			})
		})
	}
}

func testAPILifecycle(t *testing.T, s *httpxtest.Server) {
	var it itemJSON
	s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": "  I live in Paris.  "}).Want(t, http.StatusCreated).Decode(t, &it)
	if !strings.HasPrefix(it.ID, "mem_") || it.Object != "memory" || it.Kind != "user" || it.Text != "I live in Paris." ||
		it.Source != "manual" || !it.Embedded || it.ProjectID != nil || it.ConversationID != nil || it.CreatedAt == 0 {
		t.Fatalf("created %+v", it)
	}
	proj, err := s.Store.CreateProject(context.Background(), store.Project{UserID: s.UserIDs[Alice], Name: "Gateway"})
	if err != nil {
		t.Fatal(err)
	}
	var pf itemJSON
	s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": "Written in Go.", "kind": "project", "project_id": proj.PublicID}).
		Want(t, http.StatusCreated).Decode(t, &pf)
	if pf.Kind != "project" || pf.ProjectID == nil || *pf.ProjectID != proj.PublicID {
		t.Fatalf("project fact %+v", pf)
	}

	var l listJSON
	s.Do(t, Alice, "GET", "/v1/memories", nil).Want(t, http.StatusOK).Decode(t, &l)
	if l.Object != "list" || len(l.Data) != 2 || l.Data[0].ID != pf.ID || l.Data[1].ID != it.ID {
		t.Fatalf("list = %+v, want both, newest first", l)
	}
	s.Do(t, Alice, "GET", "/v1/memories?kind=project&project_id="+proj.PublicID, nil).Want(t, http.StatusOK).Decode(t, &l)
	if len(l.Data) != 1 || l.Data[0].ID != pf.ID {
		t.Fatalf("kind=project list = %+v", l)
	}
	s.Do(t, Alice, "GET", "/v1/memories?limit=1&order=asc", nil).Want(t, http.StatusOK).Decode(t, &l)
	if len(l.Data) != 1 || l.Data[0].ID != it.ID || !l.HasMore {
		t.Fatalf("first page = %+v", l)
	}
	s.Do(t, Alice, "GET", "/v1/memories?limit=1&order=asc&after="+*l.LastID, nil).Want(t, http.StatusOK).Decode(t, &l)
	if len(l.Data) != 1 || l.Data[0].ID != pf.ID || l.HasMore {
		t.Fatalf("second page = %+v", l)
	}

	var upd itemJSON
	s.Do(t, Alice, "PATCH", "/v1/memories/"+it.ID, map[string]any{"text": "I live in Lyon."}).Want(t, http.StatusOK).Decode(t, &upd)
	if upd.Text != "I live in Lyon." || !upd.Embedded || upd.ID != it.ID {
		t.Fatalf("updated %+v", upd)
	}
	s.Do(t, Alice, "GET", "/v1/memories/"+it.ID, nil).Want(t, http.StatusOK).Decode(t, &upd)
	if upd.Text != "I live in Lyon." {
		t.Fatalf("get after update %+v", upd)
	}
	got := s.Do(t, Alice, "DELETE", "/v1/memories/"+it.ID, nil).Want(t, http.StatusOK).Map(t)
	if got["deleted"] != true || got["object"] != "memory.deleted" || got["id"] != it.ID {
		t.Fatalf("delete = %v", got)
	}
	s.Do(t, Alice, "GET", "/v1/memories/"+it.ID, nil).WantError(t, http.StatusNotFound, "not_found", "")
	got = s.Do(t, Alice, "DELETE", "/v1/memories", nil).Want(t, http.StatusOK).Map(t)
	if got["count"] != float64(1) || got["deleted"] != true {
		t.Fatalf("delete all = %v", got)
	}
	s.Do(t, Alice, "GET", "/v1/memories", nil).Want(t, http.StatusOK).Decode(t, &l)
	if len(l.Data) != 0 || l.LastID != nil {
		t.Fatalf("list after forgetting everything = %+v", l)
	}
}

func testAPIIsolation(t *testing.T, s *httpxtest.Server) {
	var it itemJSON
	s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": "Alice's secret."}).Want(t, http.StatusCreated).Decode(t, &it)
	bobProj, err := s.Store.CreateProject(context.Background(), store.Project{UserID: s.UserIDs[Bob], Name: "Bob's"})
	if err != nil {
		t.Fatal(err)
	}
	s.Do(t, Bob, "GET", "/v1/memories/"+it.ID, nil).WantError(t, http.StatusNotFound, "not_found", "")
	s.Do(t, Bob, "PATCH", "/v1/memories/"+it.ID, map[string]any{"text": "mine now"}).WantError(t, http.StatusNotFound, "not_found", "")
	s.Do(t, Bob, "DELETE", "/v1/memories/"+it.ID, nil).WantError(t, http.StatusNotFound, "not_found", "")
	s.Do(t, Bob, "GET", "/v1/memories?after="+it.ID, nil).WantError(t, http.StatusBadRequest, "invalid_cursor", "after")
	s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": "x", "kind": "project", "project_id": bobProj.PublicID}).
		WantError(t, http.StatusNotFound, "not_found", "project_id")
	s.Do(t, Bob, "DELETE", "/v1/memories", nil).Want(t, http.StatusOK)
	var l listJSON
	s.Do(t, Bob, "GET", "/v1/memories", nil).Want(t, http.StatusOK).Decode(t, &l)
	if len(l.Data) != 0 {
		t.Fatalf("Bob lists %+v", l.Data)
	}
	var still itemJSON
	s.Do(t, Alice, "GET", "/v1/memories/"+it.ID, nil).Want(t, http.StatusOK).Decode(t, &still)
	if still.Text != "Alice's secret." {
		t.Fatalf("Alice's item after Bob's attempts: %+v", still)
	}
}

func testAPIHostile(t *testing.T, s *httpxtest.Server) {
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code, param  string
	}{
		{"POST", "/v1/memories", map[string]any{}, 400, "missing_required_parameter", "text"},
		{"POST", "/v1/memories", map[string]any{"text": "   "}, 400, "invalid_value", "text"},
		{"POST", "/v1/memories", map[string]any{"text": strings.Repeat("é", MaxTextLength+1)}, 400, "invalid_value", "text"},
		{"POST", "/v1/memories", map[string]any{"text": "x", "kind": "gossip"}, 400, "invalid_value", "kind"},
		{"POST", "/v1/memories", map[string]any{"text": "x", "kind": "project"}, 400, "missing_required_parameter", "project_id"},
		{"POST", "/v1/memories", map[string]any{"text": "x", "project_id": "proj_1"}, 400, "invalid_value", "project_id"},
		{"POST", "/v1/memories", map[string]any{"text": 42}, 400, "invalid_type", "text"},
		{"POST", "/v1/memories", `{"text":"a\u0000b"}`, 400, "invalid_value", "text"},
		{"POST", "/v1/memories", `{"text":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "invalid_json", ""},
		{"POST", "/v1/memories", `{"text":`, 400, "invalid_json", ""},
		{"POST", "/v1/memories", `{"text":"` + strings.Repeat("a", 20<<10) + `"}`, 413, "request_too_large", ""},
		{"PATCH", "/v1/memories/mem_nope", map[string]any{"text": "x"}, 404, "not_found", ""},
		{"PATCH", "/v1/memories/mem_nope", map[string]any{"text": "x", "kind": "user"}, 400, "invalid_value", "text"},
		{"GET", "/v1/memories?limit=0", nil, 400, "invalid_value", "limit"},
		{"GET", "/v1/memories?limit=1000", nil, 400, "invalid_value", "limit"},
		{"GET", "/v1/memories?kind=gossip", nil, 400, "invalid_value", "kind"},
		{"GET", "/v1/memories?project_id=" + strings.Repeat("p", 200), nil, 400, "invalid_value", "project_id"},
		{"GET", "/v1/memories?after=mem_nope", nil, 400, "invalid_cursor", "after"},
		{"GET", "/v1/memories?order=sideways", nil, 400, "invalid_value", "order"},
		{"GET", "/v1/memories?project_id=%00", nil, 400, "invalid_value", "project_id"},
		{"GET", "/v1/memories/mem_%00", nil, 404, "not_found", ""},
		{"GET", "/v1/memories/" + strings.Repeat("m", 5000), nil, 404, "not_found", ""},
		{"DELETE", "/v1/memories/proj_1", nil, 404, "not_found", ""},
		{"PATCH", "/v1/memories/mem_%00", map[string]any{"text": "x"}, 404, "not_found", ""},
	} {
		t.Run(fmt.Sprintf("%s %s %.40v", tc.method, tc.path, tc.body), func(t *testing.T) {
			s.Do(t, Alice, tc.method, tc.path, tc.body).WantError(t, tc.status, tc.code, tc.param)
		})
	}
	for _, route := range []string{"GET /v1/memories", "POST /v1/memories", "DELETE /v1/memories", "GET /v1/memories/mem_1", "PATCH /v1/memories/mem_1", "DELETE /v1/memories/mem_1"} {
		method, path, _ := strings.Cut(route, " ")
		s.Do(t, "", method, path, nil).WantError(t, http.StatusUnauthorized, "unauthorized", "")
	}
}

func testAPIFull(t *testing.T, s *httpxtest.Server) {
	for i := range 4 {
		s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": fmt.Sprintf("Fact %d.", i)}).Want(t, http.StatusCreated)
	}
	s.Do(t, Alice, "POST", "/v1/memories", map[string]any{"text": "One too many."}).WantError(t, http.StatusConflict, "memory_full", "")
	// Bob's memory is his own.
	s.Do(t, Bob, "POST", "/v1/memories", map[string]any{"text": "Bob's fact."}).Want(t, http.StatusCreated)
}
