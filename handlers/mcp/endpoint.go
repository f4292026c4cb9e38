package mcp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/tidwall/gjson"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
	"github.com/caddy-llm/gateway/handlers/jsonguard"
	"github.com/caddy-llm/gateway/handlers/principal"
)

// Path is the MCP endpoint's path.
const Path = "/v1/mcp"

// Endpoint serves POST, GET and DELETE on /v1/mcp: the aggregator's MCP
// server over the Streamable HTTP transport, and chat requests that the
// specification's own example posts there.
//
// A POST whose body is a JSON object without a "jsonrpc" member is not an
// MCP message: it is answered by Chat exactly as /v1/chat/completions would
// answer it (the body is passed on unchanged). Every other request goes to
// the MCP transport. Errors are JSON in the spec's shape, the transport's
// plain-text ones included.
type Endpoint struct {
	agg  *Aggregator
	chat http.Handler
	mcp  http.Handler
}

// sessionIDHeader is the Streamable HTTP transport's session header.
const sessionIDHeader = "Mcp-Session-Id"

// Endpoint returns the handler of /v1/mcp. chat serves the chat requests
// posted there; it may be nil, and such requests then get 400.
func (a *Aggregator) Endpoint(chat http.Handler) *Endpoint {
	e := &Endpoint{agg: a, chat: chat, mcp: a.streamable}
	if !a.cfg.Stateless {
		e.mcp = bindSessionOwner(a.streamable)
	}
	return e
}

// Register adds the endpoint's route to mux.
func (e *Endpoint) Register(mux *http.ServeMux) {
	mux.Handle(Path, e)
}

func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if httpx.RequirePrincipal(w, r) == nil {
		return
	}
	switch r.Method {
	case http.MethodPost:
		body, aerr := httpx.ReadBody(w, r, e.agg.cfg.MaxBodyBytes)
		if aerr == nil {
			// Before the chat parser or the MCP SDK reads it.
			aerr = jsonguard.Check(body)
		}
		if aerr != nil {
			apierr.Write(w, aerr)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if isBatch(body) {
			// One POST, one message: a batch would let a single rate-limited
			// request carry any number of tool calls. MCP 2025-06-18 removed
			// batching, and the SDK's clients never send one.
			apierr.Write(w, errBatch)
			return
		}
		if isChatRequest(body) {
			if e.chat == nil {
				apierr.Write(w, apierr.New(http.StatusBadRequest, "invalid_request",
					"POST "+Path+" takes a JSON-RPC 2.0 message"))
				return
			}
			e.chat.ServeHTTP(w, r)
			return
		}
	case http.MethodGet, http.MethodDelete:
	default:
		allow := "GET, POST, DELETE"
		if e.agg.cfg.Stateless {
			allow = "POST"
		}
		httpx.WriteMethodNotAllowed(w, r, allow)
		return
	}
	ew := &errorWriter{ResponseWriter: w}
	e.mcp.ServeHTTP(ew, r)
	ew.finish()
	if e.agg.sessions != nil && r.Method == http.MethodPost && r.Header.Get(sessionIDHeader) == "" {
		if id := w.Header().Get(sessionIDHeader); id != "" && ew.status == 0 {
			e.agg.sessions.opened(principal.From(r.Context()).UserID, id)
		}
	}
}

var errBatch = apierr.New(http.StatusBadRequest, "batch_not_supported",
	"JSON-RPC batches are not accepted: send one message per POST (MCP 2025-06-18 removed batching)")

// isBatch reports whether a POST body is a JSON-RPC batch (an array).
func isBatch(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

// isChatRequest reports whether a POST body is a chat request rather than
// JSON-RPC: an object without "jsonrpc", which every JSON-RPC 2.0 message
// has. A batch (an array) and anything unparsable go to the MCP transport,
// which answers them in JSON-RPC terms.
func isChatRequest(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && !gjson.GetBytes(b, "jsonrpc").Exists()
}

// bindSessionOwner makes a stateful session usable only by the principal
// that created it: the SDK then answers another principal's use of its
// Mcp-Session-Id as if the session did not exist. The SDK learns the owner
// only from its bearer-token middleware; the caller is already
// authenticated (llm_auth), so the "verifier" just names the principal.
func bindSessionOwner(next http.Handler) http.Handler {
	verify := func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		p := principal.From(ctx)
		if p == nil {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: strconv.FormatInt(p.UserID, 10)}, nil
	}
	bound := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The middleware wants "Authorization: Bearer <token>"; a caller
		// authenticated by X-API-Key has none. Lend it a placeholder for
		// the request (the token is never read) and give the original back.
		if !hasBearer(r.Header.Get("Authorization")) {
			original, had := r.Header["Authorization"]
			r.Header["Authorization"] = ownerPlaceholder
			defer func() {
				if had {
					r.Header["Authorization"] = original
				} else {
					delete(r.Header, "Authorization")
				}
			}()
		}
		bound.ServeHTTP(w, r)
	})
}

var ownerPlaceholder = []string{"Bearer principal"}

// hasBearer reports whether an Authorization value has the form the SDK's
// middleware accepts.
func hasBearer(v string) bool {
	f := strings.Fields(v)
	return len(f) == 2 && strings.EqualFold(f[0], "bearer")
}
