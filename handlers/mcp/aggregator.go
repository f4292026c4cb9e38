package mcp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
)

// implementationName is how the gateway introduces itself, to its clients
// as a server and to upstream servers as a client.
const implementationName = "caddy-llm-gateway"

// Reconnection backoff for upstream servers that are down.
const (
	reconnectMin = 500 * time.Millisecond
	reconnectMax = 30 * time.Second
)

// Aggregator is one MCP server made of the tools of several upstream MCP
// servers. It keeps a session with each upstream server in the background,
// reconnecting with backoff, and mirrors their tool lists. Build one per
// configuration with New and release it with Close.
type Aggregator struct {
	cfg    Config
	logger *zap.Logger
	server *sdk.Server
	// streamable serves the Streamable HTTP transport and holds the
	// stateful sessions; Endpoint puts the gateway's rules around it.
	streamable *sdk.StreamableHTTPHandler
	transport  *http.Transport
	upstreams  []*upstream
	// sessions bounds the stateful sessions per principal; nil when
	// stateless or unbounded.
	sessions *sessionRegistry

	// backoff bounds, fields so that tests can shorten them.
	reconnectMin, reconnectMax time.Duration

	cancel    context.CancelFunc
	loops     sync.WaitGroup
	closeOnce sync.Once
}

// New builds an aggregator and starts connecting to its upstream servers in
// the background; it does not wait for them, so an upstream server that is
// down does not prevent the gateway from starting: its tools appear once it
// is reachable (clients are told through notifications/tools/list_changed).
// The background work stops when ctx is done or Close is called.
func New(ctx context.Context, cfg Config) (*Aggregator, error) {
	a, err := newAggregator(cfg, reconnectMin, reconnectMax)
	if err != nil {
		return nil, err
	}
	a.start(ctx)
	return a, nil
}

// newAggregator builds an aggregator that is not started yet.
func newAggregator(cfg Config, backoffMin, backoffMax time.Duration) (*Aggregator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("configuring the MCP aggregator: %w", err)
	}
	a := &Aggregator{
		cfg:          cfg,
		logger:       cfg.Logger,
		reconnectMin: backoffMin,
		reconnectMax: backoffMax,
		// One pool for every upstream server; no overall timeout on it since
		// the standalone SSE stream of a session is long-lived.
		transport: http.DefaultTransport.(*http.Transport).Clone(),
	}
	a.server = sdk.NewServer(&sdk.Implementation{Name: implementationName, Version: cfg.Version}, &sdk.ServerOptions{
		Logger: a.slogger(),
		// Advertise tools (with list_changed) even while no upstream server
		// is connected, and nothing else: the aggregator offers no prompts,
		// resources nor logging.
		Capabilities: &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{ListChanged: true}},
	})
	a.streamable = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return a.server }, &sdk.StreamableHTTPOptions{
		Stateless:      cfg.Stateless,
		JSONResponse:   cfg.JSONResponse,
		SessionTimeout: max(cfg.SessionTimeout, 0),
		Logger:         a.slogger(),
		// Endpoint has read the body within the same bound already.
		MaxRequestBodyBytes: cfg.MaxBodyBytes,
		// The DNS-rebinding guard protects unauthenticated servers on a
		// developer's machine. Every request here carries a principal, and
		// the guard would refuse a gateway reached through a proxy on the
		// same host (loopback peer, public Host).
		DisableLocalhostProtection: true,
	})
	if !cfg.Stateless && cfg.MaxSessionsPerPrincipal > 0 {
		a.sessions = newSessionRegistry(a.server, cfg.MaxSessionsPerPrincipal)
	}
	for _, sc := range cfg.Servers {
		a.upstreams = append(a.upstreams, newUpstream(a, sc))
	}
	return a, nil
}

// start launches one connection loop per upstream server.
func (a *Aggregator) start(ctx context.Context) {
	ctx, a.cancel = context.WithCancel(ctx)
	for _, u := range a.upstreams {
		a.loops.Add(1)
		go func() {
			defer a.loops.Done()
			u.run(ctx)
		}()
	}
}

// Close stops the background work, ends the sessions with the upstream
// servers (a call in flight is let finish, within its timeout) and the
// sessions of clients, whose next request gets 404 and makes them start a
// new session — with the aggregator of the new configuration on a reload.
// It is safe to call more than once.
func (a *Aggregator) Close() error {
	a.closeOnce.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		a.loops.Wait()
		for ss := range a.server.Sessions() {
			_ = ss.Close()
		}
		a.transport.CloseIdleConnections()
	})
	return nil
}

// slogger adapts the zap logger for the SDK, which logs with log/slog. Only
// its warnings and errors are kept: it logs every session's end at info,
// which is noise for a gateway with many clients.
func (a *Aggregator) slogger() *slog.Logger {
	core, err := zapcore.NewIncreaseLevelCore(a.logger.Core(), zapcore.WarnLevel)
	if err != nil { // the logger is already above warn
		core = a.logger.Core()
	}
	return slog.New(zapslog.NewHandler(core, zapslog.WithName("mcp.sdk"), zapslog.AddStacktraceAt(slog.LevelError+1)))
}
