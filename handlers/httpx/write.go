package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/principal"
	"github.com/caddy-llm/gateway/store"
)

// WriteJSON writes v as the response with the status, followed by a newline.
//
// HTML characters are written as they are, not escaped: responses are JSON,
// never HTML, and each escaped "<", ">" or "&" weighs six bytes, which made
// a page of stored code (or of a client's "<<<…") six times its size in
// memory. The body is encoded once, with no further copy.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		apierr.WriteStatus(w, http.StatusInternalServerError, "internal_error", "encoding the response failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Deleted is the answer of a delete endpoint:
// {"id": …, "object": "<kind>.deleted", "deleted": true}.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// RequirePrincipal returns the request's principal, or writes a 401 and
// returns nil when there is none. The auth handler runs first in a real
// deployment, so this only guards against a misconfigured route.
func RequirePrincipal(w http.ResponseWriter, r *http.Request) *principal.Principal {
	p := principal.From(r.Context())
	if p == nil {
		apierr.Write(w, errNoPrincipal())
	}
	return p
}

// errNoPrincipal is the 401 of a route reached without a principal.
func errNoPrincipal() *apierr.Error {
	return apierr.New(http.StatusUnauthorized, "unauthorized", "authentication required")
}

// StoreError returns the API error for an error of the store: ErrNotFound is
// a 404 for the resource ("conversation", "project", …), ErrConflict a 409,
// ErrInvalidCursor a 400 naming "after", ErrInvalidValue a 400
// "invalid_value", ErrUnavailable a 503
// "database_unavailable". An *apierr.Error is returned as it is. Anything
// else is nil: the caller logs it and answers 500 (see WriteError).
func StoreError(err error, resource string) *apierr.Error {
	if aerr, ok := errors.AsType[*apierr.Error](err); ok {
		return aerr
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound(resource)
	case errors.Is(err, store.ErrConflict):
		return apierr.New(http.StatusConflict, "conflict", "the "+resource+" conflicts with an existing one")
	case errors.Is(err, store.ErrInvalidCursor):
		return apierr.Invalid("after", "invalid_cursor", "after does not name an entry of this list")
	case errors.Is(err, store.ErrInvalidValue):
		return apierr.New(http.StatusBadRequest, "invalid_value", "the request holds a value the database cannot take (such as a NUL character)")
	case errors.Is(err, store.ErrUnavailable):
		return apierr.New(http.StatusServiceUnavailable, "database_unavailable", "the database is unavailable, try again later")
	}
	return nil
}

// WriteError writes the API error for err (see StoreError). An unexpected
// error is logged and answered with a 500 that does not reveal it; an error
// caused by the client going away is not logged as a failure.
func WriteError(w http.ResponseWriter, r *http.Request, logger *zap.Logger, err error, resource string) {
	if aerr := StoreError(err, resource); aerr != nil {
		apierr.Write(w, aerr)
		return
	}
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// Nobody reads this answer; it only keeps the access log honest.
		apierr.WriteStatus(w, http.StatusServiceUnavailable, "request_canceled", "the request was canceled")
		return
	}
	if logger != nil {
		logger.Error("serving request", zap.String("method", r.Method), zap.String("pattern", r.Pattern), zap.Error(err))
	}
	apierr.WriteStatus(w, http.StatusInternalServerError, "internal_error", "internal error")
}
