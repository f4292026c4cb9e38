package usage

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// Routes of the usage API.
const (
	PathUsage      = "/v1/usage"
	PathAdminUsage = "/v1/admin/usage"
)

// Handler serves the usage API in the shape of OpenAI's usage API
// (/v1/organization/usage/completions): GET /v1/usage answers the caller's
// own usage; GET /v1/admin/usage anyone's, to principals holding AdminRole
// in their OIDC token (never guests, gateway tokens or API keys: to anyone
// else the route does not exist).
type Handler struct {
	// Store reads the hourly aggregates. Required.
	Store store.Store
	// AdminRole is the OIDC role that opens the admin route; empty closes
	// it to everyone.
	AdminRole string
	// OIDCIssuer is the issuer whose tokens may carry AdminRole.
	OIDCIssuer string
	Logger     *zap.Logger
	// Quota, when set, is the gateway's quota: the limits API forgets
	// its cached limits after a change, and checks that users only lower
	// their keys' limits below its defaults.
	Quota *Quota
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Register implements handlers.Registrar.
func (h *Handler) Register(mux *http.ServeMux) {
	routes := httpx.Routes{Resource: "usage", Logger: h.Logger}
	mux.HandleFunc("GET "+PathUsage, routes.Handle(h.own))
	mux.HandleFunc("GET "+PathAdminUsage, routes.Handle(h.admin))
	limits := httpx.Routes{Resource: "limits", Logger: h.Logger}
	for _, m := range []string{"GET ", "PUT ", "DELETE "} {
		mux.HandleFunc(m+PathAdminLimits, limits.Handle(h.adminLimits))
	}
	mux.HandleFunc("GET "+PathKeyLimits, limits.Handle(h.keyLimits))
	mux.HandleFunc("PUT "+PathKeyLimits, limits.Handle(h.keyLimits))
}

// Bounds of the query.
const (
	defaultBucketsDay  = 7
	maxBucketsDay      = 31
	defaultBucketsHour = 24
	maxBucketsHour     = 168
	maxParamLength     = 64
	maxTime            = 1 << 36 // year 4147: beyond it, a time is a mistake
)

// query is a validated usage query.
type query struct {
	start, end time.Time // start aligned to the bucket width
	width      time.Duration
	limit      int
	byModel    bool
	byKey      bool
	byUser     bool
}

func (h *Handler) own(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	q, aerr := h.parseQuery(r.URL.Query(), false)
	if aerr != nil {
		return aerr
	}
	return h.answer(w, r, q, p.UserID)
}

func (h *Handler) admin(w http.ResponseWriter, r *http.Request, p *principal.Principal) error {
	if !h.isAdmin(p) {
		httpx.WriteRouteNotFound(w, r)
		return nil
	}
	values := r.URL.Query()
	q, aerr := h.parseQuery(values, true)
	if aerr != nil {
		return aerr
	}
	var userID int64
	if id, aerr := single(values, "user_id"); aerr != nil {
		return aerr
	} else if id != "" {
		u, err := h.Store.GetUserByPublicID(r.Context(), id)
		if err != nil {
			return httpx.About("user", err)
		}
		userID = u.ID
	}
	return h.answer(w, r, q, userID)
}

// isAdmin reports whether p authenticated with an OIDC token carrying the
// admin role. Roles are only ever read from OIDC tokens, so guests, gateway
// tokens and API keys never have them; the checks below say so again.
func (h *Handler) isAdmin(p *principal.Principal) bool {
	return h.AdminRole != "" && p.Kind == principal.KindUser && p.Method == principal.MethodJWT &&
		p.Issuer == h.OIDCIssuer && slices.Contains(p.Roles, h.AdminRole)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// parseQuery validates every parameter: each one at fault is a 400
// invalid_value naming it.
func (h *Handler) parseQuery(v url.Values, admin bool) (query, *apierr.Error) {
	var q query
	width, aerr := single(v, "bucket_width")
	if aerr != nil {
		return q, aerr
	}
	switch width {
	case "", "1d":
		q.width, q.limit = 24*time.Hour, defaultBucketsDay
	case "1h":
		q.width, q.limit = time.Hour, defaultBucketsHour
	default:
		return q, invalid("bucket_width", "bucket_width must be 1h or 1d")
	}
	maxBuckets := maxBucketsDay
	if q.width == time.Hour {
		maxBuckets = maxBucketsHour
	}
	start, aerr := unixParam(v, "start_time")
	if aerr != nil {
		return q, aerr
	}
	if start < 0 {
		return q, invalid("start_time", "start_time is required: the Unix time (seconds) the period starts at")
	}
	end, aerr := unixParam(v, "end_time")
	if aerr != nil {
		return q, aerr
	}
	if end < 0 {
		end = h.now().Unix()
	} else if end <= start {
		return q, invalid("end_time", "end_time must be after start_time")
	}
	if s, aerr := single(v, "limit"); aerr != nil {
		return q, aerr
	} else if s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxBuckets {
			return q, invalid("limit", "limit must be a whole number from 1 to "+strconv.Itoa(maxBuckets)+" for this bucket_width")
		}
		q.limit = n
	}
	sec := int64(q.width / time.Second)
	q.start = time.Unix(start-start%sec, 0).UTC()
	q.end = time.Unix(end, 0).UTC()
	if page, aerr := single(v, "page"); aerr != nil {
		return q, aerr
	} else if page != "" {
		n, err := strconv.ParseInt(page, 10, 64)
		if err != nil || n%sec != 0 || n < q.start.Unix() || n >= end {
			return q, invalid("page", "page must be a next_page value of this query")
		}
		q.start = time.Unix(n, 0).UTC()
	}
	groups := v["group_by"]
	groups = append(groups, v["group_by[]"]...)
	if len(groups) > 3 {
		return q, invalid("group_by", "group_by takes at most 3 fields")
	}
	for _, g := range groups {
		if len(g) > maxParamLength {
			return q, invalid("group_by", "group_by is too long")
		}
		for _, f := range strings.Split(g, ",") {
			switch strings.TrimSpace(f) {
			case "model":
				q.byModel = true
			case "api_key_id":
				q.byKey = true
			case "user_id":
				if !admin {
					return q, invalid("group_by", "group_by may hold model and api_key_id")
				}
				q.byUser = true
			default:
				allowed := "model and api_key_id"
				if admin {
					allowed = "model, api_key_id and user_id"
				}
				return q, invalid("group_by", "group_by may hold "+allowed)
			}
		}
	}
	return q, nil
}

// unixParam reads an optional Unix time; -1 when absent.
func unixParam(v url.Values, name string) (int64, *apierr.Error) {
	s, aerr := single(v, name)
	if aerr != nil || s == "" {
		return -1, aerr
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxTime {
		return -1, invalid(name, name+" must be a Unix time in seconds")
	}
	return n, nil
}

// single returns a parameter given at most once, within maxParamLength.
func single(v url.Values, name string) (string, *apierr.Error) {
	vals := v[name]
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", invalid(name, name+" may be given once")
	case len(vals[0]) > maxParamLength:
		return "", invalid(name, name+" is too long")
	}
	return vals[0], nil
}

func invalid(param, message string) *apierr.Error {
	return apierr.Invalid(param, "invalid_value", message)
}

// The answer's shape: OpenAI's usage page.
type (
	usagePage struct {
		Object   string   `json:"object"`
		Data     []bucket `json:"data"`
		HasMore  bool     `json:"has_more"`
		NextPage *string  `json:"next_page"`
	}
	bucket struct {
		Object    string   `json:"object"`
		StartTime int64    `json:"start_time"`
		EndTime   int64    `json:"end_time"`
		Results   []result `json:"results"`
	}
	result struct {
		Object            string  `json:"object"`
		InputTokens       int64   `json:"input_tokens"`
		OutputTokens      int64   `json:"output_tokens"`
		InputCachedTokens int64   `json:"input_cached_tokens"`
		NumModelRequests  int64   `json:"num_model_requests"`
		Cost              float64 `json:"cost"`
		ProjectID         *string `json:"project_id"`
		UserID            *string `json:"user_id"`
		APIKeyID          *string `json:"api_key_id"`
		Model             *string `json:"model"`
		Batch             *bool   `json:"batch"`
		costNanos         int64   // summed exactly; Cost is derived from it
	}
)

func (h *Handler) answer(w http.ResponseWriter, r *http.Request, q query, userID int64) error {
	n := int((q.end.Sub(q.start) + q.width - 1) / q.width)
	hasMore := n > q.limit
	n = min(n, q.limit)
	until := q.start.Add(time.Duration(n) * q.width)
	rows, err := h.Store.QueryUsage(r.Context(), store.UsageQuery{
		UserID: userID, Start: q.start, End: until, ByModel: q.byModel, ByAPIKey: q.byKey, ByUser: q.byUser,
	})
	if err != nil {
		return err
	}
	page := usagePage{Object: "page", Data: make([]bucket, n), HasMore: hasMore}
	for i := range page.Data {
		s := q.start.Add(time.Duration(i) * q.width)
		page.Data[i] = bucket{Object: "bucket", StartTime: s.Unix(), EndTime: s.Add(q.width).Unix(), Results: []result{}}
	}
	// Each bucket's results by group: an operator's page by user may hold
	// thousands of groups per bucket, too many to search row by row.
	index := make(map[resultKey]int)
	for _, row := range rows {
		i := int(row.Hour.Sub(q.start) / q.width)
		b := &page.Data[i]
		res := findResult(b, index, q, i, row)
		res.InputTokens += row.PromptTokens
		res.OutputTokens += row.CompletionTokens
		res.NumModelRequests += row.Requests
		res.costNanos += row.CostNanos
		res.Cost = float64(res.costNanos) / 1e9
	}
	if hasMore {
		next := strconv.FormatInt(until.Unix(), 10)
		page.NextPage = &next
	}
	httpx.WriteJSON(w, http.StatusOK, page)
	return nil
}

// resultKey is a result's bucket and group: the fields the query does not
// group by stay empty.
type resultKey struct {
	bucket             int
	model, key, userID string
}

// findResult returns the bucket's result for the row's group, adding it
// when new.
func findResult(b *bucket, index map[resultKey]int, q query, bucketIndex int, row store.UsageRow) *result {
	k := resultKey{bucket: bucketIndex}
	if q.byModel {
		k.model = row.Model
	}
	if q.byKey {
		k.key = row.APIKeyPublicID
	}
	if q.byUser {
		k.userID = row.UserPublicID
	}
	if i, ok := index[k]; ok {
		return &b.Results[i]
	}
	r := result{Object: "organization.usage.completions.result"}
	if q.byModel {
		r.Model = &row.Model
	}
	if q.byKey && row.APIKeyPublicID != "" {
		r.APIKeyID = &row.APIKeyPublicID
	}
	if q.byUser {
		r.UserID = &row.UserPublicID
	}
	index[k] = len(b.Results)
	b.Results = append(b.Results, r)
	return &b.Results[len(b.Results)-1]
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
