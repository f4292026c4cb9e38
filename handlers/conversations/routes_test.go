package conversations

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
	"github.com/caddy-llm/gateway/store"
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
	{"CreateValidation", testCreateValidation},
	{"Update", testUpdate},
	{"Delete", testDelete},
	{"ListPagination", testListPagination},
	{"Items", testItems},
	{"ItemsValidation", testItemsValidation},
	{"ItemsPagination", testItemsPagination},
	{"Isolation", testIsolation},
	{"Unauthenticated", testUnauthenticated},
	{"OpenAISDK", testOpenAISDK},
}

func TestHandler(t *testing.T) {
	for _, impl := range httpxtest.Stores {
		t.Run(impl.Name, func(t *testing.T) {
			st := impl.New(t)
			for _, suite := range suites {
				t.Run(suite.name, func(t *testing.T) {
					t.Parallel()
					suite.run(t, httpxtest.NewServer(t, st, &Handler{Store: st, MaxBodyBytes: 64 << 10}))
				})
			}
		})
	}
}

// conversationJSON is a conversation as a client decodes it.
type conversationJSON struct {
	ID        string            `json:"id"`
	Object    string            `json:"object"`
	CreatedAt int64             `json:"created_at"`
	UpdatedAt int64             `json:"updated_at"`
	Metadata  map[string]string `json:"metadata"`
	Title     *string           `json:"title"`
	ProjectID *string           `json:"project_id"`
	Archived  bool              `json:"archived"`
}

type listJSON[T any] struct {
	Object  string  `json:"object"`
	Data    []T     `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
	Total   *int    `json:"total"`
}

type itemJSON struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Status  string `json:"status"`
	Content []struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		Annotations []any  `json:"annotations"`
		ImageURL    string `json:"image_url"`
		Refusal     string `json:"refusal"`
	} `json:"content"`
}

func create(t *testing.T, s *httpxtest.Server, user string, body any) conversationJSON {
	t.Helper()
	var c conversationJSON
	s.Do(t, user, "POST", "/v1/conversations", body).Want(t, http.StatusOK).Decode(t, &c)
	return c
}

func createProject(t *testing.T, s *httpxtest.Server, user, name string) string {
	t.Helper()
	p, err := s.Store.CreateProject(t.Context(), store.Project{UserID: s.UserIDs[user], Name: name})
	if err != nil {
		t.Fatalf("creating project: %v", err)
	}
	return p.PublicID
}

func testCreateAndGet(t *testing.T, s *httpxtest.Server) {
	empty := create(t, s, Alice, nil)
	if !strings.HasPrefix(empty.ID, "conv_") || empty.Object != "conversation" || empty.CreatedAt == 0 ||
		empty.Metadata == nil || len(empty.Metadata) != 0 || empty.Title != nil || empty.ProjectID != nil || empty.Archived {
		t.Fatalf("empty conversation %+v", empty)
	}
	raw := s.Do(t, Alice, "GET", "/v1/conversations/"+empty.ID, nil).Want(t, http.StatusOK).Map(t)
	for _, key := range []string{"id", "object", "created_at", "updated_at", "metadata", "title", "project_id", "archived"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("conversation lacks %q: %v", key, raw)
		}
	}

	proj := createProject(t, s, Alice, "Work")
	c := create(t, s, Alice, map[string]any{
		"title":      "  Trip plans ",
		"project_id": proj,
		"metadata":   map[string]string{"topic": "travel"},
		"items": []any{
			map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": "Where to?"}}},
			map[string]any{"role": "assistant", "content": "Lisbon."},
		},
	})
	if c.Title == nil || *c.Title != "Trip plans" || c.ProjectID == nil || *c.ProjectID != proj || c.Metadata["topic"] != "travel" {
		t.Fatalf("conversation %+v", c)
	}
	var got conversationJSON
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID, nil).Want(t, http.StatusOK).Decode(t, &got)
	if got.ID != c.ID || *got.Title != "Trip plans" || *got.ProjectID != proj || got.CreatedAt != c.CreatedAt {
		t.Fatalf("got %+v, want %+v", got, c)
	}
	var items listJSON[itemJSON]
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items?order=asc", nil).Want(t, http.StatusOK).Decode(t, &items)
	if len(items.Data) != 2 {
		t.Fatalf("items %+v, want the 2 initial items", items)
	}
	if it := items.Data[0]; it.Role != "user" || it.Content[0].Type != "input_text" || it.Content[0].Text != "Where to?" {
		t.Errorf("first item %+v", it)
	}
	if it := items.Data[1]; it.Role != "assistant" || it.Content[0].Type != "output_text" || it.Content[0].Text != "Lisbon." ||
		it.Content[0].Annotations == nil || it.Status != "completed" || it.Type != "message" || !strings.HasPrefix(it.ID, "msg_") {
		t.Errorf("second item %+v", it)
	}

	s.Do(t, Alice, "GET", "/v1/conversations/conv_doesnotexist", nil).WantError(t, 404, "not_found", "")
}

func testCreateValidation(t *testing.T, s *httpxtest.Server) {
	msg := map[string]any{"role": "user", "content": "hi"}
	many := make([]any, 21)
	for i := range many {
		many[i] = msg
	}
	longKey := strings.Repeat("k", 65)
	tooManyPairs := map[string]string{}
	for i := range 17 {
		tooManyPairs[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		param  string
	}{
		{"malformed JSON", `{"title":`, 400, "invalid_json", ""},
		{"not an object", `"title"`, 400, "invalid_json", ""},
		{"title not a string", `{"title":5}`, 400, "invalid_type", "title"},
		{"too many items", map[string]any{"items": many}, 400, "too_many_items", "items"},
		{"item without role", map[string]any{"items": []any{map[string]any{"content": "x"}}}, 400, "missing_required_parameter", "items[0].role"},
		{"item with bad role", map[string]any{"items": []any{msg, map[string]any{"role": "robot", "content": "x"}}}, 400, "invalid_value", "items[1].role"},
		{"item of other type", map[string]any{"items": []any{map[string]any{"type": "function_call", "role": "user", "content": "x"}}}, 400, "invalid_value", "items[0].type"},
		{"item without content", map[string]any{"items": []any{map[string]any{"role": "user"}}}, 400, "missing_required_parameter", "items[0].content"},
		{"item with numeric content", map[string]any{"items": []any{map[string]any{"role": "user", "content": 3}}}, 400, "invalid_type", "items[0].content"},
		{"item with bad status", map[string]any{"items": []any{map[string]any{"role": "user", "content": "x", "status": "done"}}}, 400, "invalid_value", "items[0].status"},
		{"part of unknown type", map[string]any{"items": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "audio"}}}}}, 400, "invalid_value", "items[0].content[0].type"},
		{"text part without text", map[string]any{"items": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text"}}}}}, 400, "missing_required_parameter", "items[0].content[0].text"},
		{"image part without url", map[string]any{"items": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_image", "file_id": "f"}}}}}, 400, "missing_required_parameter", "items[0].content[0].image_url"},
		{"too many metadata pairs", map[string]any{"metadata": tooManyPairs}, 400, "invalid_value", "metadata"},
		{"metadata key too long", map[string]any{"metadata": map[string]string{longKey: "v"}}, 400, "invalid_value", "metadata"},
		{"metadata value too long", map[string]any{"metadata": map[string]string{"k": strings.Repeat("v", 513)}}, 400, "invalid_value", "metadata.k"},
		{"unknown project", map[string]any{"project_id": "proj_nope"}, 404, "not_found", "project_id"},
		{"title too long", map[string]any{"title": strings.Repeat("é", conversation.MaxTitleLength+1)}, 400, "invalid_value", "title"},
		{"NUL in the title", `{"title":"a\u0000"}`, 400, "invalid_value", "title"},
		{"NUL in an item", `{"items":[{"role":"user","content":"\u0000"}]}`, 400, "invalid_value", "items"},
		{"nesting too deep", `{"metadata":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "invalid_json", ""},
		{"body too large", map[string]any{"title": strings.Repeat("x", 65<<10)}, 413, "request_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Do(t, Alice, "POST", "/v1/conversations", tt.body).WantError(t, tt.status, tt.code, tt.param)
		})
	}
	var list listJSON[conversationJSON]
	s.Do(t, Alice, "GET", "/v1/conversations", nil).Want(t, 200).Decode(t, &list)
	if *list.Total != 0 {
		t.Fatalf("rejected requests stored %d conversations", *list.Total)
	}

	// Limits are inclusive.
	ok := make([]any, 20)
	for i := range ok {
		ok[i] = msg
	}
	c := create(t, s, Alice, map[string]any{"items": ok, "metadata": map[string]string{strings.Repeat("k", 64): strings.Repeat("v", 512)}})
	var items listJSON[itemJSON]
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items?limit=100", nil).Want(t, 200).Decode(t, &items)
	if len(items.Data) != 20 {
		t.Fatalf("%d items stored, want 20", len(items.Data))
	}
}

func testUpdate(t *testing.T, s *httpxtest.Server) {
	proj := createProject(t, s, Alice, "Home")
	c := create(t, s, Alice, map[string]any{"title": "Old", "metadata": map[string]string{"a": "1"}})
	path := "/v1/conversations/" + c.ID

	var got conversationJSON
	update := func(body any) {
		t.Helper()
		got = conversationJSON{} // decoding into a used map would merge
		s.Do(t, Alice, "POST", path, body).Want(t, 200).Decode(t, &got)
	}
	update(map[string]any{"title": "New", "archived": true})
	if *got.Title != "New" || !got.Archived || got.Metadata["a"] != "1" || got.ProjectID != nil {
		t.Fatalf("after title+archived update: %+v", got)
	}
	update(map[string]any{"metadata": map[string]string{"b": "2"}, "project_id": proj})
	if len(got.Metadata) != 1 || got.Metadata["b"] != "2" || got.ProjectID == nil || *got.ProjectID != proj || *got.Title != "New" {
		t.Fatalf("after metadata+project update: %+v", got)
	}
	update(`{"metadata":null,"project_id":null}`)
	if len(got.Metadata) != 0 || got.ProjectID != nil || !got.Archived {
		t.Fatalf("after clearing metadata and project: %+v", got)
	}
	update(`{}`)
	if got.ID != c.ID || *got.Title != "New" {
		t.Fatalf("empty update answered %+v", got)
	}
	got = conversationJSON{}
	s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &got)
	if *got.Title != "New" || !got.Archived || len(got.Metadata) != 0 {
		t.Fatalf("update not stored: %+v", got)
	}

	s.Do(t, Alice, "POST", path, map[string]any{"project_id": "proj_nope"}).WantError(t, 404, "not_found", "project_id")
	s.Do(t, Alice, "POST", path, map[string]any{"project_id": 7}).WantError(t, 400, "invalid_type", "project_id")
	s.Do(t, Alice, "POST", path, map[string]any{"metadata": []string{"x"}}).WantError(t, 400, "invalid_type", "metadata")
	s.Do(t, Alice, "POST", path, map[string]any{"archived": "yes"}).WantError(t, 400, "invalid_type", "archived")
	s.Do(t, Alice, "POST", path, `{`).WantError(t, 400, "invalid_json", "")
	s.Do(t, Alice, "POST", "/v1/conversations/conv_nope", map[string]any{"title": "x"}).WantError(t, 404, "not_found", "")
}

func testDelete(t *testing.T, s *httpxtest.Server) {
	c := create(t, s, Alice, map[string]any{"items": []any{map[string]any{"role": "user", "content": "hi"}}})
	var items listJSON[itemJSON]
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items", nil).Want(t, 200).Decode(t, &items)
	itemID := items.Data[0].ID

	got := s.Do(t, Alice, "DELETE", "/v1/conversations/"+c.ID, nil).Want(t, 200).Map(t)
	if got["id"] != c.ID || got["object"] != "conversation.deleted" || got["deleted"] != true {
		t.Fatalf("delete answered %v", got)
	}
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items", nil).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items/"+itemID, nil).WantError(t, 404, "not_found", "")
	if _, err := s.Store.GetItem(t.Context(), s.UserIDs[Alice], c.ID, itemID); err == nil {
		t.Fatalf("the deleted conversation's item is still stored")
	}
	s.Do(t, Alice, "DELETE", "/v1/conversations/"+c.ID, nil).WantError(t, 404, "not_found", "")
}

// pageThrough lists path with limit 2 in order and checks every page's list
// object; it returns the ids in the order listed.
func pageThrough(t *testing.T, s *httpxtest.Server, path, order string, wantTotal int) []string {
	t.Helper()
	var ids []string
	after := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatalf("paging does not end")
		}
		var l listJSON[struct {
			ID string `json:"id"`
		}]
		s.Do(t, Alice, "GET", path+"?limit=2&order="+order+after, nil).Want(t, 200).Decode(t, &l)
		if l.Object != "list" || len(l.Data) == 0 || len(l.Data) > 2 {
			t.Fatalf("page %d: %+v", page, l)
		}
		if *l.FirstID != l.Data[0].ID || *l.LastID != l.Data[len(l.Data)-1].ID {
			t.Fatalf("page %d: first_id %s last_id %s do not match data %+v", page, *l.FirstID, *l.LastID, l.Data)
		}
		if wantTotal >= 0 && (l.Total == nil || *l.Total != wantTotal) {
			t.Fatalf("page %d: total %v, want %d", page, l.Total, wantTotal)
		}
		for _, d := range l.Data {
			ids = append(ids, d.ID)
		}
		if !l.HasMore {
			return ids
		}
		after = "&after=" + *l.LastID
	}
}

func testListPagination(t *testing.T, s *httpxtest.Server) {
	var created []string
	for i := range 5 {
		created = append(created, create(t, s, Alice, map[string]any{"title": fmt.Sprint("c", i)}).ID)
	}
	create(t, s, Bob, nil) // never listed for Alice

	asc := pageThrough(t, s, "/v1/conversations", "asc", 5)
	if fmt.Sprint(asc) != fmt.Sprint(created) {
		t.Fatalf("ascending %v, want %v", asc, created)
	}
	desc := pageThrough(t, s, "/v1/conversations", "desc", 5)
	for i := range desc {
		if desc[i] != created[len(created)-1-i] {
			t.Fatalf("descending %v, want the reverse of %v", desc, created)
		}
	}
	var l listJSON[conversationJSON]
	s.Do(t, Alice, "GET", "/v1/conversations", nil).Want(t, 200).Decode(t, &l)
	if len(l.Data) != 5 || l.Data[0].ID != created[4] || l.HasMore {
		t.Fatalf("default listing %+v, want all 5, newest first", l)
	}
	s.Do(t, Alice, "GET", "/v1/conversations?after=conv_nope", nil).WantError(t, 400, "invalid_cursor", "after")
	s.Do(t, Alice, "GET", "/v1/conversations?limit=0", nil).WantError(t, 400, "invalid_value", "limit")
	s.Do(t, Alice, "GET", "/v1/conversations?limit=101", nil).WantError(t, 400, "invalid_value", "limit")
	s.Do(t, Alice, "GET", "/v1/conversations?order=sideways", nil).WantError(t, 400, "invalid_value", "order")

	var empty map[string]any
	s.Do(t, Bob, "GET", "/v1/conversations?after="+created[0], nil).WantError(t, 400, "invalid_cursor", "after")
	empty = s.Do(t, Bob, "GET", "/v1/conversations?limit=1&order=asc", nil).Want(t, 200).Map(t)
	if empty["total"] != float64(1) {
		t.Fatalf("Bob's listing %v, want total 1", empty)
	}
}

func testItems(t *testing.T, s *httpxtest.Server) {
	c := create(t, s, Alice, nil)
	path := "/v1/conversations/" + c.ID + "/items"

	var added listJSON[itemJSON]
	s.Do(t, Alice, "POST", path, map[string]any{"items": []any{
		map[string]any{"type": "message", "role": "system", "content": "Be brief."},
		map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "input_text", "text": "What is this?"},
			map[string]any{"type": "input_image", "image_url": "jan_01hqr8v9k2x3f4g5h6j7k8m9n0"},
		}},
		map[string]any{"role": "assistant", "status": "incomplete", "content": []any{
			map[string]any{"type": "output_text", "text": "A cat"},
			map[string]any{"type": "refusal", "refusal": "No more."},
		}},
	}}).Want(t, 200).Decode(t, &added)
	if added.Object != "list" || len(added.Data) != 3 || added.HasMore ||
		*added.FirstID != added.Data[0].ID || *added.LastID != added.Data[2].ID {
		t.Fatalf("append answered %+v", added)
	}
	sys, user, asst := added.Data[0], added.Data[1], added.Data[2]
	if sys.Role != "system" || sys.Content[0].Type != "input_text" || sys.Content[0].Text != "Be brief." {
		t.Errorf("system item %+v", sys)
	}
	if user.Content[1].Type != "input_image" || user.Content[1].ImageURL != "jan_01hqr8v9k2x3f4g5h6j7k8m9n0" {
		t.Errorf("user item %+v", user)
	}
	if asst.Status != "incomplete" || asst.Content[0].Text != "A cat" || asst.Content[1].Type != "refusal" || asst.Content[1].Refusal != "No more." {
		t.Errorf("assistant item %+v", asst)
	}

	// A bare item object is accepted too.
	var single listJSON[itemJSON]
	s.Do(t, Alice, "POST", path, map[string]any{"role": "developer", "content": "Use metric units."}).Want(t, 200).Decode(t, &single)
	if len(single.Data) != 1 || single.Data[0].Role != "developer" || single.Data[0].Content[0].Type != "input_text" {
		t.Fatalf("single append answered %+v", single)
	}

	var got itemJSON
	s.Do(t, Alice, "GET", path+"/"+user.ID, nil).Want(t, 200).Decode(t, &got)
	if got.ID != user.ID || len(got.Content) != 2 || got.Content[0].Text != "What is this?" {
		t.Fatalf("get item %+v, want %+v", got, user)
	}

	var all listJSON[itemJSON]
	s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &all)
	if len(all.Data) != 4 || all.Data[0].ID != single.Data[0].ID || all.Data[3].ID != sys.ID {
		t.Fatalf("default item listing %+v, want 4 items newest first", all)
	}

	var conv conversationJSON
	s.Do(t, Alice, "DELETE", path+"/"+user.ID, nil).Want(t, 200).Decode(t, &conv)
	if conv.ID != c.ID || conv.Object != "conversation" {
		t.Fatalf("item delete answered %+v, want the conversation", conv)
	}
	s.Do(t, Alice, "GET", path+"/"+user.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "DELETE", path+"/"+user.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &all)
	if len(all.Data) != 3 {
		t.Fatalf("%d items after delete, want 3", len(all.Data))
	}
	s.Do(t, Alice, "POST", "/v1/conversations/conv_nope/items", map[string]any{"role": "user", "content": "x"}).WantError(t, 404, "not_found", "")
	s.Do(t, Alice, "GET", "/v1/conversations/conv_nope/items", nil).WantError(t, 404, "not_found", "")
}

func testItemsValidation(t *testing.T, s *httpxtest.Server) {
	c := create(t, s, Alice, nil)
	path := "/v1/conversations/" + c.ID + "/items"
	msg := map[string]any{"role": "user", "content": "hi"}
	many := make([]any, 21)
	for i := range many {
		many[i] = msg
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		param  string
	}{
		{"empty body", nil, 400, "missing_required_parameter", "items"},
		{"empty object", `{}`, 400, "missing_required_parameter", "items"},
		{"null items", `{"items":null}`, 400, "missing_required_parameter", "items"},
		{"empty items", map[string]any{"items": []any{}}, 400, "invalid_value", "items"},
		{"items not an array", map[string]any{"items": "hi"}, 400, "invalid_type", "items"},
		{"too many items", map[string]any{"items": many}, 400, "too_many_items", "items"},
		{"bad role", map[string]any{"items": []any{map[string]any{"role": "robot", "content": "x"}}}, 400, "invalid_value", "items[0].role"},
		{"bare item with bad role", map[string]any{"role": "robot", "content": "x"}, 400, "invalid_value", "role"},
		{"bare item without content", map[string]any{"role": "user"}, 400, "missing_required_parameter", "content"},
		{"role not a string", map[string]any{"items": []any{map[string]any{"role": 1, "content": "x"}}}, 400, "invalid_type", "items.role"},
		{"malformed JSON", `{"items":[`, 400, "invalid_json", ""},
		{"array body", `[]`, 400, "invalid_json", ""},
		{"NUL in a bare item", `{"role":"user","content":[{"type":"input_text","text":"\u0000"}]}`, 400, "invalid_value", "content"},
		{"body too large", map[string]any{"role": "user", "content": strings.Repeat("x", 65<<10)}, 413, "request_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Do(t, Alice, "POST", path, tt.body).WantError(t, tt.status, tt.code, tt.param)
		})
	}
	var l listJSON[itemJSON]
	s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &l)
	if len(l.Data) != 0 {
		t.Fatalf("rejected requests stored %d items", len(l.Data))
	}
}

func testItemsPagination(t *testing.T, s *httpxtest.Server) {
	c := create(t, s, Alice, nil)
	path := "/v1/conversations/" + c.ID + "/items"
	var added []string
	for i := range 5 {
		var l listJSON[itemJSON]
		s.Do(t, Alice, "POST", path, map[string]any{"role": "user", "content": fmt.Sprint("m", i)}).Want(t, 200).Decode(t, &l)
		added = append(added, l.Data[0].ID)
	}
	asc := pageThrough(t, s, path, "asc", -1)
	if fmt.Sprint(asc) != fmt.Sprint(added) {
		t.Fatalf("ascending %v, want %v", asc, added)
	}
	desc := pageThrough(t, s, path, "desc", -1)
	for i := range desc {
		if desc[i] != added[len(added)-1-i] {
			t.Fatalf("descending %v, want the reverse of %v", desc, added)
		}
	}
	s.Do(t, Alice, "GET", path+"?after=msg_nope", nil).WantError(t, 400, "invalid_cursor", "after")
	s.Do(t, Alice, "GET", path+"?limit=500", nil).WantError(t, 400, "invalid_value", "limit")
}

func testIsolation(t *testing.T, s *httpxtest.Server) {
	c := create(t, s, Alice, map[string]any{"title": "secret", "items": []any{map[string]any{"role": "user", "content": "hi"}}})
	var items listJSON[itemJSON]
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items", nil).Want(t, 200).Decode(t, &items)
	item := "/v1/conversations/" + c.ID + "/items/" + items.Data[0].ID

	s.Do(t, Bob, "GET", "/v1/conversations/"+c.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "POST", "/v1/conversations/"+c.ID, map[string]any{"title": "mine"}).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "DELETE", "/v1/conversations/"+c.ID, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "GET", "/v1/conversations/"+c.ID+"/items", nil).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "POST", "/v1/conversations/"+c.ID+"/items", map[string]any{"role": "user", "content": "x"}).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "GET", item, nil).WantError(t, 404, "not_found", "")
	s.Do(t, Bob, "DELETE", item, nil).WantError(t, 404, "not_found", "")

	var l listJSON[conversationJSON]
	s.Do(t, Bob, "GET", "/v1/conversations", nil).Want(t, 200).Decode(t, &l)
	if len(l.Data) != 0 || *l.Total != 0 || l.FirstID != nil || l.LastID != nil {
		t.Fatalf("Bob's listing %+v, want empty", l)
	}

	// Alice's project cannot be used by Bob.
	proj := createProject(t, s, Alice, "Private")
	s.Do(t, Bob, "POST", "/v1/conversations", map[string]any{"project_id": proj}).WantError(t, 404, "not_found", "project_id")
	bobs := create(t, s, Bob, nil)
	s.Do(t, Bob, "POST", "/v1/conversations/"+bobs.ID, map[string]any{"project_id": proj}).WantError(t, 404, "not_found", "project_id")

	// Nothing of Alice's changed.
	var got conversationJSON
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID, nil).Want(t, 200).Decode(t, &got)
	s.Do(t, Alice, "GET", "/v1/conversations/"+c.ID+"/items", nil).Want(t, 200).Decode(t, &items)
	if *got.Title != "secret" || len(items.Data) != 1 {
		t.Fatalf("Alice's conversation changed: %+v, %d items", got, len(items.Data))
	}
}

func testUnauthenticated(t *testing.T, s *httpxtest.Server) {
	for _, route := range []string{
		"GET /v1/conversations", "POST /v1/conversations",
		"GET /v1/conversations/conv_1", "POST /v1/conversations/conv_1", "DELETE /v1/conversations/conv_1",
		"GET /v1/conversations/conv_1/items", "POST /v1/conversations/conv_1/items",
		"GET /v1/conversations/conv_1/items/msg_1", "DELETE /v1/conversations/conv_1/items/msg_1",
	} {
		method, path, _ := strings.Cut(route, " ")
		s.Do(t, "", method, path, nil).WantError(t, 401, "unauthorized", "")
	}
}
