// Package apierr writes every error of the API in the specification's shape:
//
//	{"error": {"message": "…", "type": "…", "code": "…", "param": "…"}}
//
// All handlers, and the Caddy error routes in front of them, go through it so
// that clients (the OpenAI SDKs included) always get a parseable error.
package apierr

import (
	"encoding/json"
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
