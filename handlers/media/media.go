// Package media resolves the jan_… media references of chat requests through
// Jan's media API before a request goes upstream.
//
// A user message may carry an image by reference instead of by URL:
//
//	{"type": "image_url", "image_url": {"url": "jan_01hqr8v9k2x3f4g5h6j7k8m9n0"}}
//
// or as a data URL parameter, "data:image/png;jan_01hqr8v9k2x3f4g5h6j7k8m9n0".
// No model provider understands these, so the messages are sent to the media
// service (MEDIA_RESOLVE_URL) with the media API's contract,
//
//	POST MEDIA_RESOLVE_URL  {"payload": {"messages": […]}}
//	200                     {"payload": {"messages": […]}}
//
// with the caller's credentials forwarded, and the answer's messages — the
// references replaced by URLs the provider can fetch — replace the request's.
// Requests without references never reach the media service.
package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/handlers/principal"
)

// DefaultTimeout bounds a resolution when Resolver.Timeout is zero; it is the
// default of MEDIA_RESOLVE_TIMEOUT.
const DefaultTimeout = 5 * time.Second

// maxAnswerBytes bounds the media service's answer. Resolved messages may
// carry images inline as data URLs, so this is far above a request's limit.
const maxAnswerBytes = 64 << 20

// defaultClient serves resolvers that have no Client of their own. Its
// transport is separate from http.DefaultTransport so that no other code
// changes its settings; no client timeout, since every call has a deadline.
var defaultClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}

// Resolver resolves media references through the media service. The zero
// value and a nil *Resolver are valid: they pass requests without
// references through and refuse those with references. Its fields are
// read-only once it serves.
type Resolver struct {
	// URL is the media service's resolve endpoint (MEDIA_RESOLVE_URL), for
	// example http://media-api:8285/v1/media/resolve. Empty means media
	// references are refused with 400.
	URL string
	// Timeout bounds one resolution (MEDIA_RESOLVE_TIMEOUT). Default 5s.
	Timeout time.Duration
	// Client sends the requests. Default: a client of this package with its
	// own connection pool.
	Client *http.Client
	// Logger receives failures of the media service (never bodies nor
	// credentials); nil means none.
	Logger *zap.Logger
}

// ResolveMessages returns the messages array of a chat completions request
// body with its media references resolved, and changed true. A body without
// references gives nil and false, and the media service is not called. The
// caller puts the messages in place of the body's (openai.Adjustment):
// every other byte of the body stays the client's.
//
// r is the caller's request: its Authorization (or X-API-Key) is forwarded
// so that the media service can check the caller may use the media, with
// X-Principal-Id from the authenticated principal in ctx.
//
// Failures are API errors in the spec's shape: 400 when references cannot
// be resolved (unknown ids, or no media service configured), 403 when the
// media service refuses the caller, 504 when it does not answer in time and
// 502 for any other failure of it. Messages whose references are not all
// resolved are never returned.
func (res *Resolver) ResolveMessages(ctx context.Context, r *http.Request, body []byte) (messages []byte, changed bool, aerr *apierr.Error) {
	if !HasReferences(body) {
		return nil, false, nil
	}
	if res == nil || res.URL == "" {
		return nil, false, apierr.Invalid("messages", "media_resolver_unavailable",
			"messages reference media by jan_ id, but this gateway has no media resolver configured (MEDIA_RESOLVE_URL)")
	}
	resolved, aerr := res.resolve(ctx, r, gjson.GetBytes(body, "messages").Raw)
	if aerr != nil {
		return nil, false, aerr
	}
	if id, ok := firstReference(gjson.ParseBytes(resolved)); ok {
		return nil, false, unresolved(id)
	}
	return resolved, true, nil
}

// resolve sends the messages to the media service and returns the messages
// of its answer.
func (res *Resolver) resolve(ctx context.Context, r *http.Request, messages string) ([]byte, *apierr.Error) {
	timeout := res.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	payload := make([]byte, 0, len(messages)+len(`{"payload":{"messages":}}`))
	payload = append(payload, `{"payload":{"messages":`...)
	payload = append(payload, messages...)
	payload = append(payload, `}}`...)
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, res.URL, bytes.NewReader(payload))
	if err != nil {
		res.logWarn("building the media resolve request failed", zap.Error(err))
		return nil, apierr.New(http.StatusBadGateway, "media_resolver_error", "the media resolver is misconfigured")
	}
	forwardHeaders(ctx, req, r)

	client := res.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, res.callFailed(ctx, callCtx, timeout, err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, apierr.New(http.StatusForbidden, "media_access_denied",
			"the media service refused access to media referenced in messages").WithParam("messages")
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone ||
		resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity:
		return nil, apierr.Invalid("messages", "invalid_media_reference",
			"media referenced in messages could not be resolved (the media service answered "+strconv.Itoa(resp.StatusCode)+")")
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		res.logWarn("the media resolver failed", zap.Int("status", resp.StatusCode))
		return nil, apierr.New(http.StatusBadGateway, "media_resolver_error",
			"the media resolver failed with status "+strconv.Itoa(resp.StatusCode))
	}

	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, res.callFailed(ctx, callCtx, timeout, err)
	}
	resolved := gjson.GetBytes(answer, "payload.messages")
	if len(answer) > maxAnswerBytes || !resolved.IsArray() || !jsonguard.WithinDepth(answer) {
		res.logWarn("the media resolver's answer has no payload.messages array", zap.Int("bytes", len(answer)))
		return nil, apierr.New(http.StatusBadGateway, "media_resolver_error", "the media resolver's answer is not valid")
	}
	if resolved.Index > 0 { // a slice of answer; no copy
		return answer[resolved.Index : resolved.Index+len(resolved.Raw)], nil
	}
	return []byte(resolved.Raw), nil
}

// callFailed maps a failed call of the media service to the client's error.
func (res *Resolver) callFailed(ctx, callCtx context.Context, timeout time.Duration, err error) *apierr.Error {
	switch {
	case ctx.Err() != nil:
		return apierr.New(apierr.StatusClientClosed, "request_canceled", "the request was canceled")
	case errors.Is(callCtx.Err(), context.DeadlineExceeded):
		res.logWarn("the media resolver timed out", zap.Duration("timeout", timeout))
		return apierr.New(http.StatusGatewayTimeout, "media_resolver_timeout",
			"the media resolver did not answer within "+timeout.String())
	default:
		res.logWarn("the media resolver is unreachable", zap.Error(err))
		return apierr.New(http.StatusBadGateway, "media_resolver_unavailable", "the media resolver could not be reached")
	}
}

func (res *Resolver) logWarn(msg string, fields ...zap.Field) {
	if res.Logger != nil {
		res.Logger.Warn(msg, fields...)
	}
}

// forwardHeaders gives the media service the caller's identity and the
// request's trace. X-Principal-Id comes from the authenticated principal,
// never from a client header.
func forwardHeaders(ctx context.Context, req, from *http.Request) {
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	if from != nil {
		for _, name := range [...]string{"Authorization", "X-API-Key", "X-Request-Id", "Traceparent", "Tracestate"} {
			if v := from.Header.Get(name); v != "" {
				h.Set(name, v)
			}
		}
	}
	if p := principal.From(ctx); p != nil && p.UserPublicID != "" {
		h.Set("X-Principal-Id", p.UserPublicID)
	}
}

// unresolved is the error for a reference the media service left in place.
func unresolved(id string) *apierr.Error {
	return apierr.Invalid("messages", "invalid_media_reference", "media reference "+id+" could not be resolved")
}
