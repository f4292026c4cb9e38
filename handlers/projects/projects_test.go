package projects

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
)

const (
	Alice = httpxtest.Alice
	Bob   = httpxtest.Bob
)

// suites run on every store implementation; each gets a server with two new
// users, so they share the store without seeing each other's data.
var suites = []struct {
	name string
	run  func(t *testing.T, s *httpxtest.Server)
}{
	{"CreateAndGet", testCreateAndGet},
	{"Validation", testValidation},
	{"DuplicateName", testDuplicateName},
	{"Update", testUpdate},
	{"SoftDelete", testSoftDelete},
	{"ListPagination", testListPagination},
	{"Isolation", testIsolation},
	{"Unauthenticated", testUnauthenticated},
}

func TestHandler(t *testing.T) {
	for _, impl := range httpxtest.Stores {
		t.Run(impl.Name, func(t *testing.T) {
			st := impl.New(t)
			for _, suite := range suites {
				t.Run(suite.name, func(t *testing.T) {
					t.Parallel()
					suite.run(t, httpxtest.NewServer(t, st, &Handler{Store: st, MaxBodyBytes: 16 << 10}))
				})
			}
		})
	}
}

// projectJSON is a project as a client decodes it.
type projectJSON struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Name        string `json:"name"`
	Instruction string `json:"instruction"`
	IsFavorite  bool   `json:"is_favorite"`
	Archived    bool   `json:"archived"`
	IsArchived  bool   `json:"is_archived"`
	ArchivedAt  *int64 `json:"archived_at"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

type listJSON struct {
	Object     string        `json:"object"`
	Data       []projectJSON `json:"data"`
	FirstID    *string       `json:"first_id"`
	LastID     *string       `json:"last_id"`
	HasMore    bool          `json:"has_more"`
	NextCursor *string       `json:"next_cursor"`
}

func create(t *testing.T, s *httpxtest.Server, user string, body any) projectJSON {
	t.Helper()
	var p projectJSON
	s.Do(t, user, "POST", "/v1/projects", body).Want(t, http.StatusCreated).Decode(t, &p)
	return p
}

func get(t *testing.T, s *httpxtest.Server, user, id string) projectJSON {
	t.Helper()
	var p projectJSON
	s.Do(t, user, "GET", "/v1/projects/"+id, nil).Want(t, http.StatusOK).Decode(t, &p)
	return p
}

func testCreateAndGet(t *testing.T, s *httpxtest.Server) {
	p := create(t, s, Alice, map[string]any{"name": "  Marketing Campaign ", "instruction": "You are a marketing expert.", "is_favorite": true})
	if !strings.HasPrefix(p.ID, "proj_") || p.Object != "project" || p.Name != "Marketing Campaign" ||
		p.Instruction != "You are a marketing expert." || !p.IsFavorite || p.Archived || p.IsArchived ||
		p.ArchivedAt != nil || p.CreatedAt == 0 || p.UpdatedAt == 0 {
		t.Fatalf("created %+v", p)
	}
	raw := s.Do(t, Alice, "GET", "/v1/projects/"+p.ID, nil).Want(t, 200).Map(t)
	for _, key := range []string{"id", "object", "name", "instruction", "is_favorite", "archived", "is_archived", "archived_at", "created_at", "updated_at"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("project lacks %q: %v", key, raw)
		}
	}
	if got := get(t, s, Alice, p.ID); got != p {
		t.Fatalf("got %+v, want %+v", got, p)
	}

	archived := create(t, s, Alice, map[string]any{"name": "Old stuff", "is_archived": true})
	if !archived.Archived || !archived.IsArchived || archived.ArchivedAt == nil || archived.Instruction != "" || archived.IsFavorite {
		t.Fatalf("created archived %+v", archived)
	}
	s.Do(t, Alice, "GET", "/v1/projects/proj_nope", nil).WantError(t, 404, "not_found", "")
}

func testValidation(t *testing.T, s *httpxtest.Server) {
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		param  string
	}{
		{"no body", nil, 400, "missing_required_parameter", "name"},
		{"no name", map[string]any{"instruction": "x"}, 400, "missing_required_parameter", "name"},
		{"blank name", map[string]any{"name": "   "}, 400, "invalid_value", "name"},
		{"name too long", map[string]any{"name": strings.Repeat("é", 121)}, 400, "invalid_value", "name"},
		{"name not a string", map[string]any{"name": 12}, 400, "invalid_type", "name"},
		{"is_favorite not a boolean", map[string]any{"name": "a", "is_favorite": "yes"}, 400, "invalid_type", "is_favorite"},
		{"archived flags disagree", map[string]any{"name": "a", "archived": true, "is_archived": false}, 400, "invalid_value", "is_archived"},
		{"malformed JSON", `{"name":"a"`, 400, "invalid_json", ""},
		{"NUL in the name", `{"name":"a\u0000"}`, 400, "invalid_value", "name"},
		{"nesting too deep", `{"name":"a","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "invalid_json", ""},
		{"body too large", map[string]any{"name": "a", "instruction": strings.Repeat("x", 17<<10)}, 413, "request_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Do(t, Alice, "POST", "/v1/projects", tt.body).WantError(t, tt.status, tt.code, tt.param)
		})
	}
	var l listJSON
	s.Do(t, Alice, "GET", "/v1/projects", nil).Want(t, 200).Decode(t, &l)
	if len(l.Data) != 0 {
		t.Fatalf("rejected requests stored %d projects", len(l.Data))
	}

	// 120 characters (not bytes) is the limit, after trimming.
	long := create(t, s, Alice, map[string]any{"name": " " + strings.Repeat("é", 120) + " "})
	if long.Name != strings.Repeat("é", 120) {
		t.Fatalf("stored name %q", long.Name)
	}
	path := "/v1/projects/" + long.ID
	s.Do(t, Alice, "PATCH", path, map[string]any{"name": ""}).WantError(t, 400, "invalid_value", "name")
	s.Do(t, Alice, "PATCH", path, map[string]any{"name": strings.Repeat("a", 121)}).WantError(t, 400, "invalid_value", "name")
	s.Do(t, Alice, "PATCH", path, map[string]any{"archived": false, "is_archived": true}).WantError(t, 400, "invalid_value", "is_archived")
	s.Do(t, Alice, "PATCH", path, map[string]any{"instruction": 5}).WantError(t, 400, "invalid_type", "instruction")
	s.Do(t, Alice, "PATCH", path, `[`).WantError(t, 400, "invalid_json", "")
}

func testDuplicateName(t *testing.T, s *httpxtest.Server) {
	first := create(t, s, Alice, map[string]any{"name": "Research"})
	s.Do(t, Alice, "POST", "/v1/projects", map[string]any{"name": " Research "}).WantError(t, 409, "conflict", "name")
	other := create(t, s, Alice, map[string]any{"name": "Other"})
	s.Do(t, Alice, "PATCH", "/v1/projects/"+other.ID, map[string]any{"name": "Research"}).WantError(t, 409, "conflict", "name")
	// Renaming a project to its own name is no conflict.
	s.Do(t, Alice, "PATCH", "/v1/projects/"+first.ID, map[string]any{"name": "Research"}).Want(t, 200)
	// Names are unique per user only.
	create(t, s, Bob, map[string]any{"name": "Research"})
}

func testUpdate(t *testing.T, s *httpxtest.Server) {
	p := create(t, s, Alice, map[string]any{"name": "Draft", "instruction": "old"})
	path := "/v1/projects/" + p.ID
	patch := func(body any) projectJSON {
		t.Helper()
		var got projectJSON
		s.Do(t, Alice, "PATCH", path, body).Want(t, 200).Decode(t, &got)
		return got
	}

	got := patch(map[string]any{"name": "Final", "instruction": "new", "is_favorite": true})
	if got.Name != "Final" || got.Instruction != "new" || !got.IsFavorite || got.Archived || got.ID != p.ID {
		t.Fatalf("after update %+v", got)
	}
	got = patch(map[string]any{"archived": true})
	if !got.Archived || !got.IsArchived || got.ArchivedAt == nil || *got.ArchivedAt < p.CreatedAt || got.Name != "Final" {
		t.Fatalf("after archiving %+v", got)
	}
	got = patch(map[string]any{"is_archived": false})
	if got.Archived || got.IsArchived || got.ArchivedAt != nil || !got.IsFavorite {
		t.Fatalf("after unarchiving with is_archived %+v", got)
	}
	got = patch(map[string]any{"instruction": ""})
	if got.Instruction != "" || got.Name != "Final" {
		t.Fatalf("after clearing the instruction %+v", got)
	}
	if same := patch(`{}`); same != got {
		t.Fatalf("empty update answered %+v, want %+v", same, got)
	}
	if stored := get(t, s, Alice, p.ID); stored != got {
		t.Fatalf("stored %+v, want %+v", stored, got)
	}
	s.Do(t, Alice, "PATCH", "/v1/projects/proj_nope", map[string]any{"name": "x"}).WantError(t, 404, "not_found", "")
}

func testSoftDelete(t *testing.T, s *httpxtest.Server) {
	p := create(t, s, Alice, map[string]any{"name": "Temporary"})
	keep := create(t, s, Alice, map[string]any{"name": "Keep"})
	got := s.Do(t, Alice, "DELETE", "/v1/projects/"+p.ID, nil).Want(t, 200).Map(t)
	if got["id"] != p.ID || got["object"] != "project.deleted" || got["deleted"] != true {
		t.Fatalf("delete answered %v", got)
	}
	s.Do(t, Alice, "GET", "/v1/projects/"+p.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "PATCH", "/v1/projects/"+p.ID, map[string]any{"name": "Back"}).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "DELETE", "/v1/projects/"+p.ID, nil).WantError(t, 404, "not_found", "")
	var l listJSON
	s.Do(t, Alice, "GET", "/v1/projects", nil).Want(t, 200).Decode(t, &l)
	if len(l.Data) != 1 || l.Data[0].ID != keep.ID {
		t.Fatalf("listing after delete %+v, want only %s", l.Data, keep.ID)
	}
	// The name is free again.
	if again := create(t, s, Alice, map[string]any{"name": "Temporary"}); again.ID == p.ID {
		t.Fatalf("re-created project reuses the deleted id")
	}
}

func testListPagination(t *testing.T, s *httpxtest.Server) {
	var created []string
	for i := range 5 {
		created = append(created, create(t, s, Alice, map[string]any{"name": fmt.Sprint("p", i)}).ID)
	}
	create(t, s, Bob, map[string]any{"name": "not Alice's"})

	for _, tt := range []struct {
		order, cursorParam string
		want               []string
	}{
		{"asc", "after", created},
		{"desc", "after", []string{created[4], created[3], created[2], created[1], created[0]}},
		{"asc", "cursor", created},
		{"desc", "cursor", []string{created[4], created[3], created[2], created[1], created[0]}},
	} {
		t.Run(tt.order+"/"+tt.cursorParam, func(t *testing.T) {
			var ids []string
			cursor := ""
			for page := 0; page < 3; page++ {
				var l listJSON
				s.Do(t, Alice, "GET", "/v1/projects?limit=2&order="+tt.order+cursor, nil).Want(t, 200).Decode(t, &l)
				wantLen, wantMore := 2, page < 2
				if page == 2 {
					wantLen = 1
				}
				if l.Object != "list" || len(l.Data) != wantLen || l.HasMore != wantMore ||
					*l.FirstID != l.Data[0].ID || *l.LastID != l.Data[len(l.Data)-1].ID {
					t.Fatalf("page %d: %+v", page, l)
				}
				if wantMore != (l.NextCursor != nil) || (wantMore && *l.NextCursor != *l.LastID) {
					t.Fatalf("page %d: next_cursor %v, last_id %s, has_more %v", page, l.NextCursor, *l.LastID, l.HasMore)
				}
				for _, p := range l.Data {
					ids = append(ids, p.ID)
				}
				if l.NextCursor != nil {
					cursor = "&" + tt.cursorParam + "=" + *l.NextCursor
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Fatalf("listed %v, want %v", ids, tt.want)
			}
		})
	}
	last := s.Do(t, Alice, "GET", "/v1/projects", nil).Want(t, 200).Map(t)
	if last["next_cursor"] != nil || last["has_more"] != false || len(last["data"].([]any)) != 5 {
		t.Fatalf("default listing %v, want all 5 and a null next_cursor", last)
	}
	s.Do(t, Alice, "GET", "/v1/projects?after=proj_nope", nil).WantError(t, 400, "invalid_cursor", "after")
	s.Do(t, Alice, "GET", "/v1/projects?limit=abc", nil).WantError(t, 400, "invalid_value", "limit")
	s.Do(t, Alice, "GET", "/v1/projects?order=random", nil).WantError(t, 400, "invalid_value", "order")
}

func testIsolation(t *testing.T, s *httpxtest.Server) {
	p := create(t, s, Alice, map[string]any{"name": "Mine", "instruction": "secret"})
	s.Do(t, Bob, "GET", "/v1/projects/"+p.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "PATCH", "/v1/projects/"+p.ID, map[string]any{"name": "Stolen"}).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "DELETE", "/v1/projects/"+p.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "GET", "/v1/projects?after="+p.ID, nil).WantError(t, 400, "invalid_cursor", "after")
	var l listJSON
	s.Do(t, Bob, "GET", "/v1/projects", nil).Want(t, 200).Decode(t, &l)
	if len(l.Data) != 0 || l.FirstID != nil || l.LastID != nil || l.NextCursor != nil {
		t.Fatalf("Bob's listing %+v, want empty", l)
	}
	if got := get(t, s, Alice, p.ID); got != p {
		t.Fatalf("Alice's project changed: %+v", got)
	}
}

func testUnauthenticated(t *testing.T, s *httpxtest.Server) {
	for _, route := range []string{
		"GET /v1/projects", "POST /v1/projects",
		"GET /v1/projects/proj_1", "PATCH /v1/projects/proj_1", "DELETE /v1/projects/proj_1",
	} {
		method, path, _ := strings.Cut(route, " ")
		s.Do(t, "", method, path, nil).WantError(t, 401, "unauthorized", "")
	}
}
