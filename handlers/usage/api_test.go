package usage

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
	"github.com/caddy-llm/gateway/store/memory"
)

type testPage struct {
	Object string `json:"object"`
	Data   []struct {
		StartTime int64 `json:"start_time"`
		EndTime   int64 `json:"end_time"`
		Results   []struct {
			InputTokens      int64   `json:"input_tokens"`
			OutputTokens     int64   `json:"output_tokens"`
			NumModelRequests int64   `json:"num_model_requests"`
			Cost             float64 `json:"cost"`
			Model            *string `json:"model"`
		} `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// Buckets of an hour and of a day, pages that follow one another, empty
// buckets present, totals exact.
func TestUsageAPIBucketsAndPages(t *testing.T) {
	st := memory.New()
	u, _ := st.UpsertUser(t.Context(), store.User{Issuer: "t", Subject: "s", Kind: store.UserKindUser})
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return day.Add(time.Duration(h)*time.Hour + 5*time.Minute) }
	_, err := st.InsertUsage(t.Context(), []store.UsageRecord{
		{ID: "a", UserID: u.ID, Model: "m1", PromptTokens: 1, CompletionTokens: 2, CostNanos: 3, CreatedAt: at(0)},
		{ID: "b", UserID: u.ID, Model: "m2", PromptTokens: 10, CompletionTokens: 20, CostNanos: 30, CreatedAt: at(0)},
		{ID: "c", UserID: u.ID, Model: "m1", PromptTokens: 100, CompletionTokens: 200, CostNanos: 300, CreatedAt: at(3)},
		{ID: "d", UserID: u.ID, Model: "m1", PromptTokens: 1000, CompletionTokens: 2000, CostNanos: 3000, CreatedAt: at(25)},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Store: st, Now: func() time.Time { return day.Add(48 * time.Hour) }}
	mux := http.NewServeMux()
	h.Register(mux)
	get := func(query string) testPage {
		t.Helper()
		r := httptest.NewRequest("GET", "/v1/usage?"+query, nil)
		r = r.WithContext(principal.With(r.Context(), &principal.Principal{UserID: u.ID, Kind: principal.KindUser}))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET ?%s = %d %s", query, w.Code, w.Body)
		}
		var p testPage
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := strconv.FormatInt(day.Unix()+60, 10) // aligned down to the hour

	p := get("start_time=" + start + "&bucket_width=1h&limit=2&group_by=model")
	if len(p.Data) != 2 || !p.HasMore || p.NextPage == nil || p.Data[0].StartTime != day.Unix() || p.Data[1].EndTime != day.Unix()+7200 {
		t.Fatalf("first page = %+v", p)
	}
	if len(p.Data[0].Results) != 2 || len(p.Data[1].Results) != 0 {
		t.Fatalf("first hour by model = %+v, second (empty) = %+v", p.Data[0].Results, p.Data[1].Results)
	}
	p = get("start_time=" + start + "&bucket_width=1h&limit=2&page=" + *p.NextPage)
	if len(p.Data) != 2 || p.Data[0].StartTime != day.Unix()+7200 || len(p.Data[1].Results) != 1 || p.Data[1].Results[0].InputTokens != 100 {
		t.Fatalf("second page = %+v", p)
	}

	p = get("start_time=" + start + "&end_time=" + strconv.FormatInt(day.Unix()+2*86400, 10))
	if len(p.Data) != 2 || p.HasMore || p.NextPage != nil {
		t.Fatalf("two days = %+v", p)
	}
	r0, r1 := p.Data[0].Results[0], p.Data[1].Results[0]
	if r0.InputTokens != 111 || r0.OutputTokens != 222 || r0.NumModelRequests != 3 || r0.Cost != 333e-9 || r0.Model != nil ||
		r1.InputTokens != 1000 || r1.NumModelRequests != 1 {
		t.Fatalf("daily totals = %+v, %+v", r0, r1)
	}
}
