package mcp

import (
	"net/http"
	"strings"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// maxErrorText bounds the plain-text error kept from the transport.
const maxErrorText = 512

// errorWriter turns the transport's plain-text errors (http.Error: bad
// Accept header, unknown session, wrong method, …) into JSON errors in the
// spec's shape. Everything else — JSON-RPC answers, SSE streams — passes
// through untouched.
type errorWriter struct {
	http.ResponseWriter
	status int // of the plain-text error being replaced; 0 when passing through
	text   []byte
}

func (w *errorWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = status
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *errorWriter) Write(p []byte) (int, error) {
	if w.status != 0 {
		if room := maxErrorText - len(w.text); room > 0 {
			w.text = append(w.text, p[:min(len(p), room)]...)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush serves the transport's SSE streams, which flush every event.
func (w *errorWriter) Flush() {
	if w.status == 0 {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *errorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the replaced error, if any.
func (w *errorWriter) finish() {
	if w.status != 0 {
		apierr.Write(w.ResponseWriter, transportError(w.status, strings.TrimSpace(string(w.text))))
	}
}

// transportError is the API error for a plain-text error of the transport.
func transportError(status int, text string) *apierr.Error {
	if text == "" {
		text = strings.ToLower(http.StatusText(status))
	}
	switch {
	case status == http.StatusNotFound,
		// Another principal's session: answered as if it did not exist.
		status == http.StatusForbidden && text == "session user mismatch":
		return apierr.New(http.StatusNotFound, "session_not_found",
			"session not found: start a new session with initialize")
	case status == http.StatusMethodNotAllowed:
		return apierr.New(status, "method_not_allowed", text)
	case status == http.StatusRequestEntityTooLarge:
		return apierr.New(status, "request_too_large", text)
	case status == http.StatusUnsupportedMediaType:
		return apierr.New(status, "unsupported_media_type", text)
	case status == http.StatusForbidden:
		return apierr.New(status, "forbidden", text)
	case status >= 500:
		return apierr.New(status, "internal_error", text)
	default:
		return apierr.New(status, "invalid_request", text)
	}
}
