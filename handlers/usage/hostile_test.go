package usage

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

// hostileEnv is a usage API on a memory store with one user, and a way to
// call it as that user or as an operator.
type hostileEnv struct {
	mux  *http.ServeMux
	user store.User
	now  time.Time
}

func newHostileEnv(t *testing.T) hostileEnv {
	t.Helper()
	st := memory.New()
	u, err := st.UpsertUser(t.Context(), store.User{Issuer: "t", Subject: "s", Kind: store.UserKindUser})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	h := &Handler{Store: st, AdminRole: "admin", OIDCIssuer: "https://idp", Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	h.Register(mux)
	return hostileEnv{mux: mux, user: u, now: now}
}

func (e hostileEnv) do(t *testing.T, method, target, body string, p *principal.Principal) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r = r.WithContext(principal.With(r.Context(), p))
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// wantParamError checks a 400 invalid_value naming param, in the spec's
// error shape.
func wantParamError(t *testing.T, what string, w *httptest.ResponseRecorder, status int, code, param string) {
	t.Helper()
	var body struct {
		Error struct {
			Code  string  `json:"code"`
			Param *string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != status || body.Error.Code != code {
		t.Errorf("%s = %d %s, want %d %s", what, w.Code, w.Body, status, code)
		return
	}
	if param != "" && (body.Error.Param == nil || *body.Error.Param != param) {
		t.Errorf("%s: param = %v, want %s (%s)", what, body.Error.Param, param, w.Body)
	}
}

// Every bound of the usage query, just past it: a 400 naming the
// parameter, and just within it: a 200.
func TestUsageAPIQueryBounds(t *testing.T) {
	e := newHostileEnv(t)
	user := &principal.Principal{UserID: e.user.ID, Kind: principal.KindUser}
	start := e.now.Add(-365 * 24 * time.Hour).Unix()
	s := "start_time=" + strconv.FormatInt(start, 10)
	for _, bad := range []struct{ query, param string }{
		{"start_time=" + strconv.FormatInt(maxTime+1, 10), "start_time"},
		{"start_time=99999999999999999999", "start_time"},
		{s + "&end_time=" + strconv.FormatInt(maxTime+1, 10), "end_time"},
		{s + "&limit=32", "limit"},
		{s + "&bucket_width=1d&limit=32", "limit"},
		{s + "&bucket_width=1h&limit=169", "limit"},
		{s + "&limit=-1", "limit"},
		{s + "&limit=1&limit=2", "limit"},
		{s + "&limit=" + strings.Repeat("1", maxParamLength+1), "limit"},
		{s + "&group_by=model&group_by=model&group_by=model&group_by=model", "group_by"},
		{s + "&group_by=model&group_by[]=model&group_by[]=model&group_by[]=model", "group_by"},
		{s + "&group_by=" + strings.Repeat("model,", 11), "group_by"},
		{s + "&group_by=model,,", "group_by"},
		{s + "&page=" + strconv.FormatInt(e.now.Unix()-e.now.Unix()%86400+86400, 10), "page"},
		{s + "&page=" + strconv.FormatInt(start-start%86400-86400, 10), "page"},
		{s + "&bucket_width=1h&page=" + strconv.FormatInt(start-start%3600+1, 10), "page"},
	} {
		wantParamError(t, "GET ?"+bad.query, e.do(t, "GET", PathUsage+"?"+bad.query, "", user), http.StatusBadRequest, "invalid_value", bad.param)
	}

	// A year asked for in days gives one page of 31 buckets at most,
	// whatever the time range's width, and a next page.
	w := e.do(t, "GET", PathUsage+"?"+s+"&limit=31&group_by=model,api_key_id", "", user)
	var p testPage
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusOK {
		t.Fatalf("a year in days = %d %s", w.Code, w.Body)
	}
	if len(p.Data) != 31 || !p.HasMore || p.NextPage == nil {
		t.Fatalf("a year in days: %d buckets, has_more %v, next_page %v; want 31, true, set", len(p.Data), p.HasMore, p.NextPage)
	}
	w = e.do(t, "GET", PathUsage+"?"+s+"&bucket_width=1h&limit=168", "", user)
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusOK || len(p.Data) != 168 || !p.HasMore {
		t.Fatalf("a year in hours = %d, %d buckets; want 200 with 168 and more", w.Code, len(p.Data))
	}
}

// Every bound of a limits body, just past it: a 400 naming the member (a
// 413 for a body too large), and nothing stored.
func TestLimitsAPIBodyBounds(t *testing.T) {
	e := newHostileEnv(t)
	admin := &principal.Principal{UserID: e.user.ID + 1, Kind: principal.KindUser, Method: principal.MethodJWT,
		Issuer: "https://idp", Roles: []string{"admin"}}
	path := PathAdminLimits + "?user_id=" + e.user.PublicID
	tooMany := make([]string, 101) // the bound is 100, as the error says
	for i := range tooMany {
		tooMany[i] = "m" + strconv.Itoa(i)
	}
	models, _ := json.Marshal(tooMany)
	for _, bad := range []struct{ body, param string }{
		{`{"tokens_per_day": 1099511627777}`, "tokens_per_day"},
		{`{"tokens_per_month": -1}`, "tokens_per_month"},
		{`{"tokens_per_minute": 1099511627777}`, "tokens_per_minute"},
		{`{"cost_per_day": 1000000000.5}`, "cost_per_day"},
		{`{"cost_per_month": -0.01}`, "cost_per_month"},
		{`{"models": ` + string(models) + `}`, "models"},
		{`{"models": [""]}`, "models"},
		{`{"models": ["` + strings.Repeat("m", 257) + `"]}`, "models"},
	} {
		wantParamError(t, "PUT "+bad.body[:min(len(bad.body), 60)], e.do(t, "PUT", path, bad.body, admin), http.StatusBadRequest, "invalid_value", bad.param)
	}
	wantParamError(t, "PUT a 1e400 cost", e.do(t, "PUT", path, `{"cost_per_day": 1e400}`, admin), http.StatusBadRequest, "invalid_type", "cost_per_day")
	big := `{"models": ["` + strings.Repeat("m", maxLimitsBody) + `"]}`
	wantParamError(t, "PUT a body over the bound", e.do(t, "PUT", path, big, admin), http.StatusRequestEntityTooLarge, "request_too_large", "")
	wantParamError(t, "GET after the refusals", e.do(t, "GET", path, "", admin), http.StatusNotFound, "not_found", "")

	// At the bounds, everything is taken.
	atBounds := `{"tokens_per_day": 1099511627776, "cost_per_month": 1000000000, "models": ["` + strings.Repeat("m", 256) + `"]}`
	if w := e.do(t, "PUT", path, atBounds, admin); w.Code != http.StatusOK {
		t.Fatalf("PUT at the bounds = %d %s", w.Code, w.Body)
	}
}
