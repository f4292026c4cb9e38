package settings

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-llm/gateway/handlers/conversation"
	"github.com/caddy-llm/gateway/handlers/httpx/httpxtest"
)

const (
	Alice = httpxtest.Alice
	Bob   = httpxtest.Bob
)

// seedDefaults is the GET answer of the spec for a user with no settings,
// without its id and user_id.
const seedDefaults = `{
  "memory_config": {
    "enabled": true,
    "observe_enabled": true,
    "inject_user_core": true,
    "inject_semantic": true,
    "inject_episodic": false,
    "max_user_items": 3,
    "max_project_items": 5,
    "max_episodic_items": 3,
    "min_similarity": 0.75
  },
  "profile_settings": {
    "base_style": "Friendly",
    "custom_instructions": "",
    "nick_name": "",
    "occupation": "",
    "more_about_you": ""
  },
  "advanced_settings": {
    "web_search": false,
    "code_enabled": false
  },
  "enable_trace": false,
  "enable_tools": true,
  "preferences": {}
}`

const path = "/v1/users/me/settings"

// suites run on every store implementation; each gets a server with two new
// users, so they share the store without seeing each other's data.
var suites = []struct {
	name string
	run  func(t *testing.T, s *httpxtest.Server)
}{
	{"Defaults", testDefaults},
	{"Merge", testMerge},
	{"NicknameAlias", testNicknameAlias},
	{"Preferences", testPreferences},
	{"Validation", testValidation},
	{"ConcurrentPatches", testConcurrentPatches},
	{"PreferencesBounded", testPreferencesBounded},
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
					suite.run(t, httpxtest.NewServer(t, st, &Handler{Store: st, MaxBodyBytes: 4 << 10}))
				})
			}
		})
	}
}

// want returns the seed's defaults with the JSON patches applied on top, as
// a generic map to compare with an answer.
func want(t *testing.T, userID int64, patches ...string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(seedDefaults), &m); err != nil {
		t.Fatal(err)
	}
	for _, p := range patches {
		var pm map[string]any
		if err := json.Unmarshal([]byte(p), &pm); err != nil {
			t.Fatal(err)
		}
		m = mergePatch(m, pm)
	}
	m["user_id"] = float64(userID)
	return m
}

// check compares an answer with want, ignoring the row id (0 before the
// first update, the store's id afterwards).
func check(t *testing.T, r *httpxtest.Response, want map[string]any) {
	t.Helper()
	got := r.Want(t, http.StatusOK).Map(t)
	if _, ok := got["id"]; !ok {
		t.Errorf("settings lack id: %v", got)
	}
	delete(got, "id")
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("settings\n got %s\nwant %s", g, w)
	}
}

func testDefaults(t *testing.T, s *httpxtest.Server) {
	r := s.Do(t, Alice, "GET", path, nil)
	check(t, r, want(t, s.UserIDs[Alice]))
	if m := r.Map(t); m["id"] != float64(0) {
		t.Errorf("defaults id %v, want 0", m["id"])
	}
	// An empty PATCH stores nothing and answers the defaults too.
	check(t, s.Do(t, Alice, "PATCH", path, `{}`), want(t, s.UserIDs[Alice]))
	check(t, s.Do(t, Alice, "PATCH", path, nil), want(t, s.UserIDs[Alice]))
}

func testMerge(t *testing.T, s *httpxtest.Server) {
	id := s.UserIDs[Alice]
	first := `{"memory_config":{"enabled":false,"max_user_items":5}}`
	check(t, s.Do(t, Alice, "PATCH", path, first), want(t, id, first))
	second := `{"profile_settings":{"base_style":"Professional","nick_name":"Dev"},"advanced_settings":{"web_search":true},"enable_trace":true}`
	check(t, s.Do(t, Alice, "PATCH", path, second), want(t, id, first, second))
	third := `{"memory_config":{"min_similarity":0.5,"inject_episodic":true},"enable_tools":false,"advanced_settings":{"code_enabled":true}}`
	check(t, s.Do(t, Alice, "PATCH", path, third), want(t, id, first, second, third))
	check(t, s.Do(t, Alice, "GET", path, nil), want(t, id, first, second, third))

	// Limits are inclusive, and styles are matched in any case.
	edges := `{"memory_config":{"max_user_items":20,"max_project_items":50,"max_episodic_items":0,"min_similarity":1}}`
	check(t, s.Do(t, Alice, "PATCH", path, edges), want(t, id, first, second, third, edges))
	check(t, s.Do(t, Alice, "PATCH", path, `{"profile_settings":{"base_style":"concise"}}`),
		want(t, id, first, second, third, edges, `{"profile_settings":{"base_style":"Concise"}}`))
}

func testNicknameAlias(t *testing.T, s *httpxtest.Server) {
	id := s.UserIDs[Alice]
	check(t, s.Do(t, Alice, "PATCH", path, `{"profile_settings":{"nickname":"Ali"}}`),
		want(t, id, `{"profile_settings":{"nick_name":"Ali"}}`))
	check(t, s.Do(t, Alice, "PATCH", path, `{"profile_settings":{"nickname":"ignored","nick_name":"Al"}}`),
		want(t, id, `{"profile_settings":{"nick_name":"Al"}}`))
	s.Do(t, Alice, "PATCH", path, `{"profile_settings":{"nickname":1}}`).WantError(t, 400, "invalid_type", "profile_settings.nickname")
}

func testPreferences(t *testing.T, s *httpxtest.Server) {
	id := s.UserIDs[Alice]
	check(t, s.Do(t, Alice, "PATCH", path, `{"preferences":{"theme":"dark","layout":{"sidebar":true,"width":300}}}`),
		want(t, id, `{"preferences":{"theme":"dark","layout":{"sidebar":true,"width":300}}}`))
	check(t, s.Do(t, Alice, "PATCH", path, `{"preferences":{"layout":{"width":null,"font":"mono"},"lang":["en","fr"]}}`),
		want(t, id, `{"preferences":{"theme":"dark","layout":{"sidebar":true,"font":"mono"},"lang":["en","fr"]}}`))
	check(t, s.Do(t, Alice, "PATCH", path, `{"preferences":{"theme":null}}`),
		want(t, id, `{"preferences":{"layout":{"sidebar":true,"font":"mono"},"lang":["en","fr"]}}`))
}

func testValidation(t *testing.T, s *httpxtest.Server) {
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		param  string
	}{
		{"unknown top-level field", `{"theme":"dark"}`, 400, "unknown_parameter", "theme"},
		{"unknown memory field", `{"memory_config":{"enabled":true,"max_items":3}}`, 400, "unknown_parameter", "memory_config.max_items"},
		{"unknown profile field", `{"profile_settings":{"age":3}}`, 400, "unknown_parameter", "profile_settings.age"},
		{"unknown advanced field", `{"advanced_settings":{"gpu":true}}`, 400, "unknown_parameter", "advanced_settings.gpu"},
		{"read-only id", `{"id":5}`, 400, "unknown_parameter", "id"},
		{"max_user_items above 20", `{"memory_config":{"max_user_items":21}}`, 400, "invalid_value", "memory_config.max_user_items"},
		{"max_user_items below 0", `{"memory_config":{"max_user_items":-1}}`, 400, "invalid_value", "memory_config.max_user_items"},
		{"max_user_items fractional", `{"memory_config":{"max_user_items":2.5}}`, 400, "invalid_type", "memory_config.max_user_items"},
		{"max_project_items above 50", `{"memory_config":{"max_project_items":51}}`, 400, "invalid_value", "memory_config.max_project_items"},
		{"max_episodic_items above 20", `{"memory_config":{"max_episodic_items":21}}`, 400, "invalid_value", "memory_config.max_episodic_items"},
		{"min_similarity above 1", `{"memory_config":{"min_similarity":1.01}}`, 400, "invalid_value", "memory_config.min_similarity"},
		{"min_similarity below 0", `{"memory_config":{"min_similarity":-0.1}}`, 400, "invalid_value", "memory_config.min_similarity"},
		{"min_similarity a string", `{"memory_config":{"min_similarity":"high"}}`, 400, "invalid_type", "memory_config.min_similarity"},
		{"base_style unknown", `{"profile_settings":{"base_style":"Casual"}}`, 400, "invalid_value", "profile_settings.base_style"},
		{"enabled a string", `{"memory_config":{"enabled":"yes"}}`, 400, "invalid_type", "memory_config.enabled"},
		{"enabled null", `{"memory_config":{"enabled":null}}`, 400, "invalid_type", "memory_config.enabled"},
		{"occupation a number", `{"profile_settings":{"occupation":7}}`, 400, "invalid_type", "profile_settings.occupation"},
		{"enable_tools a number", `{"enable_tools":1}`, 400, "invalid_type", "enable_tools"},
		{"group not an object", `{"memory_config":true}`, 400, "invalid_type", "memory_config"},
		{"group null", `{"advanced_settings":null}`, 400, "invalid_type", "advanced_settings"},
		{"preferences not an object", `{"preferences":[1]}`, 400, "invalid_type", "preferences"},
		{"valid field then invalid one", `{"enable_trace":true,"memory_config":{"max_user_items":99}}`, 400, "invalid_value", "memory_config.max_user_items"},
		{"malformed JSON", `{"memory_config":`, 400, "invalid_json", ""},
		{"array body", `[]`, 400, "invalid_json", ""},
		{"null body", `null`, 400, "invalid_json", ""},
		{"body too large", `{"profile_settings":{"more_about_you":"` + strings.Repeat("x", 5<<10) + `"}}`, 413, "request_too_large", ""},
		{"nick_name too long", `{"profile_settings":{"nick_name":"` + strings.Repeat("é", MaxNickNameLength+1) + `"}}`, 400, "invalid_value", "profile_settings.nick_name"},
		{"occupation too long", `{"profile_settings":{"occupation":"` + strings.Repeat("o", MaxOccupationLength+1) + `"}}`, 400, "invalid_value", "profile_settings.occupation"},
		{"NUL in a profile string", `{"profile_settings":{"nick_name":"a\u0000"}}`, 400, "invalid_value", "profile_settings"},
		{"NUL in a preference", `{"preferences":{"a":["\u0000"]}}`, 400, "invalid_value", "preferences"},
		{"nesting too deep", `{"preferences":` + strings.Repeat(`{"a":`, 64) + `1` + strings.Repeat(`}`, 65), 400, "invalid_json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Do(t, Alice, "PATCH", path, tt.body).WantError(t, tt.status, tt.code, tt.param)
		})
	}
	// No rejected request changed anything.
	check(t, s.Do(t, Alice, "GET", path, nil), want(t, s.UserIDs[Alice]))
}

// testConcurrentPatches sends many PATCHes at once, each changing its own
// preference key (one a profile field too); none may be lost.
func testConcurrentPatches(t *testing.T, s *httpxtest.Server) {
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"preferences":{"k%d":%d}}`, i, i)
			if i == 7 {
				body = `{"preferences":{"k7":7},"profile_settings":{"occupation":"pilot"}}`
			}
			r, err := s.Send(Alice, "PATCH", path, body)
			if err != nil {
				t.Error(err)
			} else if r.Status != http.StatusOK {
				t.Errorf("PATCH %d: status %d: %s", i, r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	var got struct {
		Preferences     map[string]float64 `json:"preferences"`
		ProfileSettings struct {
			Occupation string `json:"occupation"`
		} `json:"profile_settings"`
	}
	s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &got)
	if len(got.Preferences) != n || got.ProfileSettings.Occupation != "pilot" {
		t.Fatalf("after %d concurrent PATCHes: %+v", n, got)
	}
	for i := range n {
		if got.Preferences[fmt.Sprint("k", i)] != float64(i) {
			t.Fatalf("preference k%d lost: %+v", i, got.Preferences)
		}
	}
}

func testIsolation(t *testing.T, s *httpxtest.Server) {
	change := `{"profile_settings":{"nick_name":"A"},"preferences":{"x":1}}`
	check(t, s.Do(t, Alice, "PATCH", path, change), want(t, s.UserIDs[Alice], change))
	check(t, s.Do(t, Bob, "GET", path, nil), want(t, s.UserIDs[Bob]))
	bobs := `{"memory_config":{"enabled":false}}`
	check(t, s.Do(t, Bob, "PATCH", path, bobs), want(t, s.UserIDs[Bob], bobs))
	check(t, s.Do(t, Alice, "GET", path, nil), want(t, s.UserIDs[Alice], change))
}

func testUnauthenticated(t *testing.T, s *httpxtest.Server) {
	s.Do(t, "", "GET", path, nil).WantError(t, 401, "unauthorized", "")
	s.Do(t, "", "PATCH", path, `{"enable_trace":true}`).WantError(t, 401, "unauthorized", "")
}

func TestDefaultsAreFresh(t *testing.T) {
	a, b := conversation.DefaultSettings(), conversation.DefaultSettings()
	a.Preferences["x"] = 1
	if len(b.Preferences) != 0 {
		t.Fatalf("Defaults share their Preferences map")
	}
	got, err := json.Marshal(SettingsJSON(b))
	if err != nil {
		t.Fatal(err)
	}
	var gotMap, wantMap map[string]any
	_ = json.Unmarshal(got, &gotMap)
	_ = json.Unmarshal([]byte(seedDefaults), &wantMap)
	wantMap["id"], wantMap["user_id"] = float64(0), float64(0)
	if !reflect.DeepEqual(gotMap, wantMap) {
		t.Fatalf("Defaults as JSON:\n%s\nwant the spec's\n%s", got, seedDefaults)
	}
}

func TestMergePatch(t *testing.T) {
	target := map[string]any{"a": 1.0, "n": map[string]any{"x": 1.0, "y": 2.0}}
	patch := map[string]any{"n": map[string]any{"y": nil, "z": 3.0}, "b": true, "a": nil, "m": map[string]any{"q": nil}}
	got := mergePatch(target, patch)
	want := map[string]any{"n": map[string]any{"x": 1.0, "z": 3.0}, "b": true, "m": map[string]any{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if target["a"] != 1.0 || len(target["n"].(map[string]any)) != 2 {
		t.Fatalf("mergePatch changed its target: %v", target)
	}
}

// testPreferencesBounded merges small PATCHes until preferences would pass
// MaxPreferencesBytes: that PATCH is refused and changes nothing, and the
// stored preferences stay within the bound.
func testPreferencesBounded(t *testing.T, s *httpxtest.Server) {
	value := strings.Repeat("v", 3<<10)
	refusedAt := -1
	for i := range 2 * MaxPreferencesBytes / len(value) {
		body := fmt.Sprintf(`{"preferences":{"k%d":"%s"}}`, i, value)
		r := s.Do(t, Alice, "PATCH", path, body)
		if r.Status == 400 {
			r.WantError(t, 400, "invalid_value", "preferences")
			refusedAt = i
			break
		}
		r.Want(t, 200)
	}
	if refusedAt < 0 {
		t.Fatal("preferences grew past MaxPreferencesBytes")
	}
	var got struct {
		Preferences map[string]any `json:"preferences"`
	}
	s.Do(t, Alice, "GET", path, nil).Want(t, 200).Decode(t, &got)
	if len(got.Preferences) != refusedAt {
		t.Errorf("%d preferences stored, want the %d merged before the refusal", len(got.Preferences), refusedAt)
	}
	if b, _ := json.Marshal(got.Preferences); len(b) > MaxPreferencesBytes {
		t.Errorf("stored preferences weigh %d bytes, above %d", len(b), MaxPreferencesBytes)
	}
	// Other fields still change.
	s.Do(t, Alice, "PATCH", path, `{"enable_trace":true}`).Want(t, 200)
}
