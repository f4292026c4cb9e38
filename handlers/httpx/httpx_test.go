package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

func TestParseListOptions(t *testing.T) {
	tests := []struct {
		query     string
		want      store.ListOptions
		wantParam string // "" when the query is valid
	}{
		{"", store.ListOptions{Limit: 20, Order: "desc", MaxBytes: MaxPageBytes}, ""},
		{"limit=1&order=asc&after=conv_1", store.ListOptions{Limit: 1, Order: "asc", MaxBytes: MaxPageBytes, After: "conv_1"}, ""},
		{"limit=100&order=desc", store.ListOptions{Limit: 100, Order: "desc", MaxBytes: MaxPageBytes}, ""},
		{"cursor=proj_2", store.ListOptions{Limit: 20, Order: "desc", MaxBytes: MaxPageBytes, After: "proj_2"}, ""},
		{"after=a&cursor=b", store.ListOptions{Limit: 20, Order: "desc", MaxBytes: MaxPageBytes, After: "a"}, ""},
		{"limit=0", store.ListOptions{}, "limit"},
		{"limit=101", store.ListOptions{}, "limit"},
		{"limit=-3", store.ListOptions{}, "limit"},
		{"limit=ten", store.ListOptions{}, "limit"},
		{"order=up", store.ListOptions{}, "order"},
		{"order=ASC", store.ListOptions{}, "order"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, aerr := ParseListOptions(q)
			if tt.wantParam != "" {
				if aerr == nil || aerr.Status != http.StatusBadRequest || aerr.Param != tt.wantParam {
					t.Fatalf("error %+v, want a 400 naming %q", aerr, tt.wantParam)
				}
				return
			}
			if aerr != nil {
				t.Fatalf("unexpected error %+v", aerr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	tests := []struct {
		name       string
		body       string
		max        int64
		wantStatus int // 0: no error
		wantCode   string
		wantParam  string
		want       body
	}{
		{name: "object", body: `{"name":"a","count":2}`, want: body{"a", 2}},
		{name: "empty body", body: ``, want: body{}},
		{name: "whitespace body", body: " \n", want: body{}},
		{name: "malformed", body: `{"name":`, wantStatus: 400, wantCode: "invalid_json"},
		{name: "trailing data", body: `{} {}`, wantStatus: 400, wantCode: "invalid_json"},
		{name: "not an object", body: `[1,2]`, wantStatus: 400, wantCode: "invalid_json"},
		{name: "wrong type", body: `{"count":"x"}`, wantStatus: 400, wantCode: "invalid_type", wantParam: "count"},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, max: 50, wantStatus: 413, wantCode: "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			var got body
			aerr := DecodeJSON(httptest.NewRecorder(), r, tt.max, &got)
			if tt.wantStatus == 0 {
				if aerr != nil {
					t.Fatalf("unexpected error %+v", aerr)
				}
				if got != tt.want {
					t.Fatalf("decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			if aerr == nil || aerr.Status != tt.wantStatus || aerr.Code != tt.wantCode || aerr.Param != tt.wantParam {
				t.Fatalf("error %+v, want status %d code %q param %q", aerr, tt.wantStatus, tt.wantCode, tt.wantParam)
			}
		})
	}
}

// A body without Content-Length (chunked) is cut off at the limit too.
func TestReadBodyChunkedTooLarge(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 2000)))
	r.ContentLength = -1
	_, aerr := ReadBody(httptest.NewRecorder(), r, 1000)
	if aerr == nil || aerr.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("error %+v, want 413", aerr)
	}
}

func TestNewList(t *testing.T) {
	empty := NewList[int](nil, "", "", false)
	if empty.Object != "list" || empty.Data == nil || empty.FirstID != nil || empty.LastID != nil {
		t.Fatalf("empty list %+v, want object list, [] data and null ids", empty)
	}
	l := NewList([]int{1, 2}, "a", "b", true)
	if *l.FirstID != "a" || *l.LastID != "b" || !l.HasMore {
		t.Fatalf("list %+v, want a, b, has_more", l)
	}
}

func TestStoreError(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
		wantParam  string
	}{
		{fmt.Errorf("getting: %w", store.ErrNotFound), 404, "not_found", ""},
		{store.ErrConflict, 409, "conflict", ""},
		{fmt.Errorf("listing: %w", store.ErrInvalidCursor), 400, "invalid_cursor", "after"},
		{fmt.Errorf("querying: %w", store.ErrUnavailable), 503, "database_unavailable", ""},
		{apierr.Invalid("x", "bad", "bad x"), 400, "bad", "x"},
		{errors.New("disk on fire"), 500, "internal_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), nil, tt.err, "conversation")
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			body := w.Body.String()
			if !strings.Contains(body, `"code":"`+tt.wantCode+`"`) ||
				(tt.wantParam != "" && !strings.Contains(body, `"param":"`+tt.wantParam+`"`)) {
				t.Fatalf("body %s, want code %q param %q", body, tt.wantCode, tt.wantParam)
			}
			if strings.Contains(body, "disk on fire") {
				t.Fatalf("body %s reveals the internal error", body)
			}
		})
	}
}

func TestRequirePrincipal(t *testing.T) {
	w := httptest.NewRecorder()
	if p := RequirePrincipal(w, httptest.NewRequest(http.MethodGet, "/", nil)); p != nil || w.Code != http.StatusUnauthorized {
		t.Fatalf("without principal: got %v and status %d, want nil and 401", p, w.Code)
	}
	want := &principal.Principal{UserID: 7}
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(principal.With(context.Background(), want))
	w = httptest.NewRecorder()
	if p := RequirePrincipal(w, r); p != want {
		t.Fatalf("got %v, want %v", p, want)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, http.StatusCreated, map[string]int{"a": 1})
	if w.Code != http.StatusCreated || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != "{\"a\":1}\n" {
		t.Fatalf("got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if w.Header().Get("Content-Length") != "8" {
		t.Fatalf("Content-Length %q, want 8", w.Header().Get("Content-Length"))
	}
}

// A body that claims a large Content-Length but sends a few bytes reserves
// memory for what arrived, not for the claim.
func TestReadBodyReservesWhatArrives(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"model":"`))
	r.ContentLength = 9 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	body, _ := ReadBody(httptest.NewRecorder(), r, 10<<20)
	runtime.ReadMemStats(&after)
	if string(body) != `{"model":"` {
		t.Fatalf("body %q", body)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("reading 10 bytes announced as 9 MiB allocated %d bytes", n)
	}
}

func TestNewPage(t *testing.T) {
	id := func(s string) string { return "id_" + s }
	if l := NewPage[string](nil, id, false); l.FirstID != nil || l.LastID != nil || l.Data == nil {
		t.Fatalf("empty page %+v, want [] data and null ids", l)
	}
	l := NewPage([]string{"a", "b", "c"}, id, true)
	if *l.FirstID != "id_a" || *l.LastID != "id_c" || !l.HasMore {
		t.Fatalf("page %+v, want id_a, id_c, has_more", l)
	}
}
