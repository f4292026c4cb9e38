// Package upstream holds the HTTP plumbing the HTTP providers share.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-llm/gateway/handlers/provider"
)

// Bounds of what is read from an upstream.
const (
	// MaxResponseBytes bounds a non-streamed answer.
	MaxResponseBytes = 32 << 20
	// MaxErrorBytes bounds the part of an error body that is read; only its
	// message is used.
	MaxErrorBytes = 64 << 10
	// MaxListingBytes bounds a models listing.
	MaxListingBytes = 8 << 20
	// DrainTimeout and DrainBytes bound the read of what follows the end of
	// a stream, done so that the connection can be reused.
	DrainTimeout = time.Second
	DrainBytes   = 64 << 10
)

// ErrTooLarge is returned by ReadBody when the body exceeds its limit.
var ErrTooLarge = errors.New("upstream answer is too large")

// ParseBaseURL parses an upstream base URL. Its error never repeats the URL,
// which may hold a secret.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("base_url must be an absolute http or https URL")
	}
	return u, nil
}

// Endpoint joins base and path, keeping base's user info and query.
func Endpoint(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(path, "/")
	u.RawPath = ""
	return u.String()
}

// NewClient returns a client without timeout (the providers' watchdogs bound
// first byte and idle time; a healthy stream lasts as long as it needs) that
// never follows redirects (which would resend the key wherever the upstream
// points).
func NewClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ReadBody reads r to its end, up to limit bytes; length is the announced
// length (-1 when unknown).
func ReadBody(r io.Reader, length, limit int64) ([]byte, error) {
	if length > limit {
		return nil, ErrTooLarge
	}
	var buf bytes.Buffer
	if length > 0 {
		// An announced length reserves at most 64 KB: the buffer grows
		// with the bytes that really arrive.
		buf.Grow(int(min(length, 64<<10)))
	} else {
		buf.Grow(4 << 10)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, ErrTooLarge
	}
	return buf.Bytes(), nil
}

// ReadError reads the start of an error answer.
func ReadError(body io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(body, MaxErrorBytes))
	return b
}

// KickingReader re-arms a watchdog's idle timeout on every read, so that a
// slow but progressing body is not cut while a stalled one is.
type KickingReader struct {
	R    io.Reader
	WD   *provider.Watchdog
	Idle time.Duration
}

func (k *KickingReader) Read(p []byte) (int, error) {
	n, err := k.R.Read(p)
	if n > 0 {
		k.WD.Kick(k.Idle)
	}
	return n, err
}

// IsEventStream reports whether a response is an SSE stream.
func IsEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// SetTrace copies the request's trace context and request id.
func SetTrace(h http.Header, req *provider.Request) {
	if req.TraceParent != "" {
		h["Traceparent"] = []string{req.TraceParent}
		if req.TraceState != "" {
			h["Tracestate"] = []string{req.TraceState}
		}
	}
	if req.RequestID != "" {
		h["X-Request-Id"] = []string{req.RequestID}
	}
}

// NewHTTP builds what an HTTP provider calls its upstream with: a client on
// rt, or, when rt is nil, on a tuned transport it also returns so that the
// provider can close its idle connections; and the headers of every request:
// the configured ones, a JSON content type and a default User-Agent.
// Credentials are the provider's to add.
func NewHTTP(rt http.RoundTripper, tc provider.TransportConfig, headers map[string]string) (*http.Client, *http.Transport, http.Header) {
	var owned *http.Transport
	if rt == nil {
		owned = provider.NewTransport(tc)
		rt = owned
	}
	h := make(http.Header, len(headers)+4)
	for k, v := range headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "caddy-llm-gateway")
	}
	return NewClient(rt), owned, h
}

// Fetch sends hreq and reads the whole of its answer, re-arming wd's idle
// timeout as the bytes arrive. An answer other than 200 is classified by
// provider.ErrorFromStatus, its message with upstreamModel named as
// publicModel and apiKey redacted; a transport failure by
// provider.ErrorFromTransport.
func Fetch(ctx context.Context, client *http.Client, hreq *http.Request, wd *provider.Watchdog, idle time.Duration, upstreamModel, publicModel, apiKey string) ([]byte, error) {
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, provider.ErrorFromTransport(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, provider.ErrorFromStatus(resp.StatusCode, resp.Header, ReadError(resp.Body),
			upstreamModel, publicModel, apiKey, "[redacted]")
	}
	wd.Kick(idle)
	body, err := ReadBody(&KickingReader{R: resp.Body, WD: wd, Idle: idle}, resp.ContentLength, MaxResponseBytes)
	if err != nil {
		return nil, provider.ErrorFromTransport(ctx, err)
	}
	return body, nil
}
