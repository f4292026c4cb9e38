package mcp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap"
)

// upstreamProtocolVersion is the protocol the gateway speaks to upstream
// servers. It is the last one with sessions: what deployed MCP servers
// implement, and the one whose session gives the gateway a standalone SSE
// stream for notifications/tools/list_changed and pings to notice that a
// server went away. Servers of later versions still accept it.
const upstreamProtocolVersion = "2025-11-25"

// keepAliveInterval is how often an upstream session is pinged; failed pings
// end the session, and the connection loop reconnects.
const keepAliveInterval = 30 * time.Second

// upstream is the gateway's connection to one upstream MCP server.
type upstream struct {
	agg    *Aggregator
	cfg    ServerConfig
	logger *zap.Logger
	client *sdk.Client
	http   *http.Client
	allow  map[string]bool // nil: every tool

	// session is the live session, nil while disconnected. Tool calls load
	// it without a lock.
	session atomic.Pointer[sdk.ClientSession]
	// refresh asks the connection loop to list the tools again; one pending
	// request is enough however many notifications arrive.
	refresh chan struct{}
	// exposed holds the names on the server of the tools currently offered.
	// Only the connection loop touches it.
	exposed map[string]bool
}

func newUpstream(a *Aggregator, cfg ServerConfig) *upstream {
	u := &upstream{
		agg:     a,
		cfg:     cfg,
		logger:  a.logger.With(zap.String("mcp_server", cfg.Name), zap.String("url", redactedURL(cfg.URL))),
		refresh: make(chan struct{}, 1),
		exposed: make(map[string]bool),
	}
	if len(cfg.AllowTools) > 0 {
		u.allow = make(map[string]bool, len(cfg.AllowTools))
		for _, name := range cfg.AllowTools {
			u.allow[name] = true
		}
	}
	header := make(http.Header, len(cfg.Headers))
	for name, value := range cfg.Headers {
		header.Set(name, value)
	}
	u.http = &http.Client{Transport: &headerTransport{base: a.transport, header: header}}
	u.client = sdk.NewClient(&sdk.Implementation{Name: implementationName, Version: a.cfg.Version}, &sdk.ClientOptions{
		Logger:       a.slogger(),
		Capabilities: &sdk.ClientCapabilities{}, // no roots, sampling nor elicitation
		KeepAlive:    keepAliveInterval,
		// One lost ping is a blip; two in a row end the session.
		KeepAliveFailureThreshold: 2,
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			u.requestRefresh()
		},
	})
	return u
}

// requestRefresh asks for the tools to be listed again. It never blocks: it
// runs on the SDK's goroutine that reads the session.
func (u *upstream) requestRefresh() {
	select {
	case u.refresh <- struct{}{}:
	default:
	}
}

// run keeps a session with the server until ctx is done: it connects,
// mirrors the server's tools while the session lasts, and reconnects with
// exponential backoff (and jitter, so that replicas do not retry in step)
// when the server is down or the session ends.
func (u *upstream) run(ctx context.Context) {
	delay := u.agg.reconnectMin
	failures := 0
	for {
		cs, err := u.connect(ctx)
		if ctx.Err() != nil {
			if cs != nil {
				_ = cs.Close()
			}
			return
		}
		if err != nil {
			// Warn on the first failure and then at the pace of the longest
			// delay, not on every quick retry of a server that is down.
			failures++
			log := u.logger.Debug
			if failures == 1 || delay == u.agg.reconnectMax {
				log = u.logger.Warn
			}
			log("connecting to the MCP server failed", zap.Int("attempt", failures), zap.Duration("retry_in", delay), zap.Error(err))
		} else {
			failures = 0
			if u.serve(ctx, cs) {
				delay = u.agg.reconnectMin // it was healthy: retry soon
			}
			if ctx.Err() != nil {
				return
			}
			u.logger.Warn("lost the session with the MCP server; reconnecting", zap.Duration("retry_in", delay))
		}
		if !sleep(ctx, jitter(delay)) {
			return
		}
		delay = min(2*delay, u.agg.reconnectMax)
	}
}

// connect opens a session, bounded by the server's timeout.
func (u *upstream) connect(ctx context.Context) (*sdk.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	transport := &sdk.StreamableClientTransport{Endpoint: u.cfg.URL, HTTPClient: u.http}
	return u.client.Connect(ctx, transport, &sdk.ClientSessionOptions{ProtocolVersion: upstreamProtocolVersion})
}

// serve mirrors the server's tools until the session ends or ctx is done,
// then closes the session and, unless the aggregator is shutting down,
// withdraws the tools. It reports whether the tools could be listed.
func (u *upstream) serve(ctx context.Context, cs *sdk.ClientSession) (listed bool) {
	ended := make(chan struct{})
	go func() {
		_ = cs.Wait()
		close(ended)
	}()
	defer func() {
		u.session.Store(nil)
		// Close lets calls in flight finish (each within its timeout).
		_ = cs.Close()
		<-ended
		if ctx.Err() == nil {
			u.withdrawAll()
		}
	}()

	select { // a request left over from the previous session is moot
	case <-u.refresh:
	default:
	}
	u.session.Store(cs)
	if err := u.sync(ctx, cs); err != nil {
		u.logger.Warn("listing the tools of the MCP server failed", zap.Error(err))
		return false
	}
	u.logger.Info("connected to the MCP server", zap.Int("tools", len(u.exposed)))
	for {
		select {
		case <-ctx.Done():
			return true
		case <-ended:
			return true
		case <-u.refresh:
			if err := u.sync(ctx, cs); err != nil {
				u.logger.Warn("listing the tools of the MCP server again failed; keeping the previous list", zap.Error(err))
				continue
			}
			u.logger.Info("the MCP server's tools changed", zap.Int("tools", len(u.exposed)))
		}
	}
}

// sync lists the server's tools and makes the aggregator offer exactly the
// allowed ones.
func (u *upstream) sync(ctx context.Context, cs *sdk.ClientSession) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	listed := make(map[string]*sdk.Tool)
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("listing tools: %w", err)
		}
		if u.allow == nil || u.allow[tool.Name] {
			listed[tool.Name] = tool
		}
	}

	var gone []string
	for name := range u.exposed {
		if listed[name] == nil {
			gone = append(gone, ExposedToolName(u.cfg.Name, name))
			delete(u.exposed, name)
		}
	}
	if len(gone) > 0 {
		u.agg.server.RemoveTools(gone...)
	}
	for name, tool := range listed {
		if err := u.expose(tool); err != nil {
			u.logger.Warn("skipping a tool of the MCP server", zap.String("tool", name), zap.Error(err))
			if u.exposed[name] {
				u.agg.server.RemoveTools(ExposedToolName(u.cfg.Name, name))
				delete(u.exposed, name)
			}
			continue
		}
		u.exposed[name] = true
	}
	return nil
}

// expose offers one of the server's tools under its exposed name, replacing
// a previous version of it.
func (u *upstream) expose(tool *sdk.Tool) (err error) {
	t := *tool
	t.Name = ExposedToolName(u.cfg.Name, tool.Name)
	if t.InputSchema, err = objectSchema(tool.InputSchema); err != nil {
		return err
	}
	// AddTool panics on a tool it finds invalid; an upstream server's tool
	// must not take the gateway down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid tool: %v", r)
		}
	}()
	u.agg.server.AddTool(&t, u.callHandler(tool.Name))
	return nil
}

// withdrawAll stops offering the server's tools.
func (u *upstream) withdrawAll() {
	if len(u.exposed) == 0 {
		return
	}
	names := make([]string, 0, len(u.exposed))
	for name := range u.exposed {
		names = append(names, ExposedToolName(u.cfg.Name, name))
	}
	clear(u.exposed)
	u.agg.server.RemoveTools(names...)
}

// objectSchema returns a tool's input schema as the SDK requires it: a JSON
// object schema. A tool without a schema takes any object.
func objectSchema(schema any) (any, error) {
	if schema == nil {
		return map[string]any{"type": "object"}, nil
	}
	m, ok := schema.(map[string]any)
	if !ok {
		return nil, errors.New("the input schema is not a JSON object")
	}
	if m["type"] != "object" {
		return nil, fmt.Errorf(`the input schema's type is %v, not "object"`, m["type"])
	}
	return m, nil
}

// headerTransport adds the configured headers to every request to a server.
type headerTransport struct {
	base   http.RoundTripper
	header http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(t.header) == 0 {
		return t.base.RoundTrip(r)
	}
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	for name, values := range t.header {
		r.Header[name] = values
	}
	return t.base.RoundTrip(r)
}

// sleep waits for d, or less when ctx is done first; it reports whether the
// full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads d over [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// redactedURL is a URL fit for logs: without a password.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	return u.Redacted()
}
