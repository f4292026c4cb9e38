package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
)

// Kind classifies an upstream failure. It decides whether the router tries
// the next deployment and what the client sees.
type Kind uint8

const (
	// KindServer is an upstream 5xx, a malformed answer, or a stream that
	// ended without its end marker. Clients see 502.
	KindServer Kind = iota
	// KindConnect means the upstream could not be reached. Clients see 502.
	KindConnect
	// KindTimeout means the upstream did not answer, or stalled mid-stream,
	// within the configured timeouts. Clients see 504.
	KindTimeout
	// KindRateLimited is an upstream 429. Clients see 429 with Retry-After
	// when every deployment is rate limited.
	KindRateLimited
	// KindAuth is an upstream 401/403: the gateway's credentials are wrong,
	// a misconfiguration the client cannot fix. Clients see 502.
	KindAuth
	// KindNotFound is an upstream 404 (the upstream does not know the model
	// or the path): a misconfiguration. Clients see 502.
	KindNotFound
	// KindBadRequest is an upstream 400/422: the request itself is at fault.
	// Clients see 400 with the upstream's message, sanitised.
	KindBadRequest
	// KindTooLarge is an upstream 413. Clients see 413.
	KindTooLarge
	// KindCanceled means the client went away; nothing is sent.
	KindCanceled
)

var kindNames = [...]string{"server_error", "connect_error", "timeout", "rate_limited", "auth_error", "not_found", "bad_request", "too_large", "canceled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is an upstream failure. Message, Code and Param are safe to show to
// clients; Err is the cause, for logs only.
type Error struct {
	Kind Kind
	// Status is the upstream's HTTP status, 0 when there was no response.
	Status int
	// Message is a short sanitised description.
	Message string
	// Code and Param are the upstream's error code and parameter for
	// KindBadRequest, kept only when they look like plain identifiers.
	Code, Param string
	// RetryAfter is the upstream's Retry-After for KindRateLimited.
	RetryAfter time.Duration
	// Err is the underlying error, never shown to clients.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("upstream ")
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		b.WriteString(" (status ")
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteByte(')')
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether another deployment may succeed where this one
// failed. A bad request would fail everywhere; a cancelled client wants
// nothing more.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindBadRequest, KindTooLarge, KindCanceled:
		return false
	}
	return true
}

// countsAsFailure reports whether the error says something about the
// deployment's health.
func (e *Error) countsAsFailure() bool {
	return e.Retryable()
}

// Error codes clients see for upstream failures.
const (
	CodeUpstreamError       = "upstream_error"
	CodeUpstreamUnavailable = "upstream_unavailable"
	CodeUpstreamTimeout     = "upstream_timeout"
	CodeUpstreamAuth        = "upstream_auth_error"
	CodeRateLimited         = "rate_limit_exceeded"
	CodeInvalidRequest      = "invalid_request"
	CodeClientClosed        = "client_closed_request"
)

// APIError returns the error as clients see it. Nothing of an upstream's
// body beyond a sanitised message of a 400 reaches them.
func (e *Error) APIError() *apierr.Error {
	switch e.Kind {
	case KindBadRequest:
		code := e.Code
		if code == "" {
			code = CodeInvalidRequest
		}
		msg := e.Message
		if msg == "" {
			msg = "the upstream provider rejected the request"
		}
		return &apierr.Error{Status: http.StatusBadRequest, Type: apierr.TypeInvalidRequest, Code: code, Param: e.Param, Message: msg}
	case KindTooLarge:
		return apierr.New(http.StatusRequestEntityTooLarge, "request_too_large", "the request is too large for the upstream provider")
	case KindRateLimited:
		return apierr.New(http.StatusTooManyRequests, CodeRateLimited, "the model is receiving too many requests; retry later")
	case KindTimeout:
		return apierr.New(http.StatusGatewayTimeout, CodeUpstreamTimeout, "the upstream provider did not answer in time")
	case KindConnect:
		return apierr.New(http.StatusBadGateway, CodeUpstreamUnavailable, "the upstream provider is unreachable")
	case KindAuth:
		return apierr.New(http.StatusBadGateway, CodeUpstreamAuth, "the gateway could not authenticate to the upstream provider")
	case KindCanceled:
		return apierr.New(apierr.StatusClientClosed, CodeClientClosed, "the client closed the request")
	case KindNotFound:
		return apierr.New(http.StatusBadGateway, CodeUpstreamError, "the upstream provider does not serve this model")
	}
	return apierr.New(http.StatusBadGateway, CodeUpstreamError, "the upstream provider failed")
}

// RetryAfterSeconds returns Retry-After as whole seconds, at least 1.
func (e *Error) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// AsError returns err as an *Error, classifying errors that are not one as
// server errors (or cancellations when ctx is done).
func AsError(ctx context.Context, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	if ctx.Err() != nil {
		return &Error{Kind: KindCanceled, Err: err}
	}
	return &Error{Kind: KindServer, Err: err}
}

// ErrorFromStatus classifies an upstream HTTP error answer. body is the start
// of the response body (callers bound what they read); its message is kept,
// sanitised, only for client errors. replacements are old, new pairs applied
// to that message (for example the upstream model name and the public id).
func ErrorFromStatus(status int, header http.Header, body []byte, replacements ...string) *Error {
	e := &Error{Status: status}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter = ParseRetryAfter(header, time.Now())
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = KindAuth
	case status == http.StatusNotFound:
		e.Kind = KindNotFound
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = KindTooLarge
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = KindTimeout
	case status >= 400 && status < 500:
		e.Kind = KindBadRequest
		msg, code, param := upstreamErrorFields(body)
		e.Message = SanitizeMessage(msg, replacements...)
		e.Code = safeIdentifier(code)
		e.Param = safeParam(param)
	default:
		e.Kind = KindServer
	}
	e.Err = fmt.Errorf("upstream answered %d", status)
	return e
}

// upstreamErrorFields finds the message of the error shapes upstreams use:
// OpenAI's and llama.cpp's {"error":{"message",…}}, Anthropic's
// {"type":"error","error":{…}}, vLLM's older {"object":"error","message"}
// and FastAPI's {"detail": …}.
func upstreamErrorFields(body []byte) (msg, code, param string) {
	if len(body) == 0 || !jsonguard.WithinDepth(body) || !gjson.ValidBytes(body) {
		return "", "", ""
	}
	root := gjson.ParseBytes(body)
	errObj := root.Get("error")
	switch {
	case errObj.IsObject():
		msg = errObj.Get("message").String()
		if c := errObj.Get("code"); c.Type == gjson.String {
			code = c.Str
		} else if t := errObj.Get("type"); t.Type == gjson.String && code == "" {
			// Anthropic and some servers put the kind in type only.
			code = t.Str
		}
		param = errObj.Get("param").Str
	case errObj.Type == gjson.String:
		msg = errObj.Str
	default:
		msg = root.Get("message").String()
		if d := root.Get("detail"); msg == "" && d.Exists() {
			if d.Type == gjson.String {
				msg = d.Str
			} else {
				msg = d.Get("0.msg").String()
			}
		}
		param = root.Get("param").Str
	}
	return msg, code, param
}

// ParseRetryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or an
// HTTP date). It returns 0 when neither is usable.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 24*3600*1000 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s > 0 && s < 24*3600 {
			return time.Duration(s) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 && d < 24*time.Hour {
			return d
		}
	}
	return 0
}

// Timeout causes set by a Watchdog.
var (
	ErrFirstByteTimeout = errors.New("upstream sent nothing within the first-byte timeout")
	ErrIdleTimeout      = errors.New("upstream sent nothing within the idle timeout")
)

// ErrorFromTransport classifies an error of an upstream call (dialing,
// sending, or reading the answer). ctx is the context the call ran with; its
// cause tells a timeout of ours from a client that went away.
func ErrorFromTransport(ctx context.Context, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	// url.Error carries the request URL, which may hold a secret in its
	// query: keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if errors.Is(cause, ErrFirstByteTimeout) || errors.Is(cause, ErrIdleTimeout) {
			return &Error{Kind: KindTimeout, Err: cause}
		}
		return &Error{Kind: KindCanceled, Err: err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &Error{Kind: KindTimeout, Err: err}
	}
	if isConnectError(err) {
		return &Error{Kind: KindConnect, Err: err}
	}
	return &Error{Kind: KindServer, Err: err}
}

func isConnectError(err error) bool {
	// "remote error" is a TLS alert from the upstream, such as the one a
	// server requiring a client certificate sends when it gets none (with
	// TLS 1.3 that comes after the client's side of the handshake is done).
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "remote error") {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return true
	}
	var recErr tls.RecordHeaderError
	return errors.As(err, &recErr)
}
