// Package apierr writes every error of the API in the specification's shape:
//
//	{"error": {"message": "…", "type": "…", "code": "…", "param": "…"}}
//
// All handlers, and the Caddy error routes in front of them, go through it so
// that clients (the OpenAI SDKs included) always get a parseable error.
package apierr

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Error types, as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeUpstream       = "upstream_error"
)

// StatusClientClosed is the status recorded (never sent: nobody reads the
// answer) when the client went away before it was answered, as nginx names
// it. Access logs and metrics then tell it from a failure of the gateway.
const StatusClientClosed = 499

// Error is one API error. It implements error so that domain code can return
// it and handlers can write it unchanged.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    string `json:"code"`
	Param   string `json:"param,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the status's default type.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message, Type: TypeFor(status)}
}

// WithParam returns a copy of e that names the parameter at fault.
func (e *Error) WithParam(param string) *Error {
	c := *e
	c.Param = param
	return &c
}

// TypeFor returns the error type clients expect for a status code.
func TypeFor(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return TypeAuthentication
	case status == http.StatusForbidden:
		return TypePermission
	case status == http.StatusNotFound:
		return TypeNotFound
	case status == http.StatusTooManyRequests:
		return TypeRateLimit
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return TypeUpstream
	case status >= 500:
		return TypeServer
	default:
		return TypeInvalidRequest
	}
}

// Invalid returns a 400 naming the parameter at fault.
func Invalid(param, code, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: code, Message: message, Param: param}
}

// NotFound returns a 404 for a resource kind ("conversation", "project", …).
func NotFound(what string) *Error {
	return New(http.StatusNotFound, "not_found", what+" not found")
}

type envelope struct {
	Error *Error `json:"error"`
}

// Write writes e as the response. It must be called before anything else was
// written to w.
func Write(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.Type == "" {
		e.Type = TypeFor(status)
	}
	body, err := json.Marshal(envelope{Error: e})
	if err != nil { // cannot happen for this struct; keep a valid body anyway
		body = []byte(`{"error":{"message":"internal error","type":"server_error","code":"internal_error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteStatus writes a new error; a shorthand for Write(w, New(…)).
func WriteStatus(w http.ResponseWriter, status int, code, message string) {
	Write(w, New(status, code, message))
}

// RequestTooLarge is the 413 for a request body above limit bytes. Every 413
// of the gateway, Caddy's request_body included, is written through it, so
// clients see one message naming the one limit that refused them.
func RequestTooLarge(limit int64) *Error {
	return New(http.StatusRequestEntityTooLarge, "request_too_large",
		"the request body is larger than the limit of "+strconv.FormatInt(limit, 10)+" bytes")
}

// BodyLimit returns the limit of the http.MaxBytesReader whose error err
// wraps, and false when err is not such an error. A body read through
// several such readers (Caddy's request_body, then a handler's own) fails
// on the smallest one, which is the limit to name.
func BodyLimit(err error) (int64, bool) {
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return mbe.Limit, true
	}
	return 0, false
}
