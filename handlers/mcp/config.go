package mcp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults of a configuration.
const (
	DefaultServerTimeout  = 30 * time.Second
	DefaultSessionTimeout = 30 * time.Minute
	DefaultMaxBodyBytes   = 10 << 20 // the chat handler's limit: chat bodies are forwarded
	// DefaultMaxSessionsPerPrincipal bounds one principal's stateful
	// sessions: enough for a few clients (an IDE, a chat app, scripts).
	DefaultMaxSessionsPerPrincipal = 16
)

// ToolNameSeparator joins an upstream server's name and a tool's name into
// the name clients see: "<server>__<tool>".
const ToolNameSeparator = "__"

// ServerConfig is one upstream MCP server.
type ServerConfig struct {
	// Name prefixes the server's tools ("<name>__<tool>"). It is made of
	// ASCII letters, digits, '-' and '_', must not contain "__" nor end with
	// '_', and is unique among the servers: with these rules the first "__"
	// of an exposed tool name always ends the server's name, so two servers'
	// tools can never have the same exposed name.
	Name string
	// URL is the server's Streamable HTTP endpoint, for example
	// https://tools.example.com/mcp. Put credentials in Headers, not here:
	// URLs end up in logs.
	URL string
	// Headers are sent with every request to the server, typically
	// Authorization. They are never logged.
	Headers map[string]string
	// AllowTools, when not empty, lists the only tools of the server that
	// are exposed, by their names on the server (without the prefix).
	AllowTools []string
	// Timeout bounds one tool call, and the connection handshake with the
	// list of tools. Default 30s.
	Timeout time.Duration
}

// Config is an aggregator's configuration.
type Config struct {
	// Servers are the upstream MCP servers whose tools are offered.
	Servers []ServerConfig
	// Stateless serves every POST without a session: no Mcp-Session-Id, no
	// GET stream, and DELETE answers 405. Use it with several replicas
	// behind a load balancer that does not route by Mcp-Session-Id, since a
	// stateful session lives in the memory of the replica that created it.
	// Clients of protocol 2026-07-28 and later still get tools/list_changed
	// through subscriptions/listen; older clients must list again.
	Stateless bool
	// JSONResponse answers a POST with application/json instead of an SSE
	// stream when the client accepts both.
	JSONResponse bool
	// SessionTimeout closes a stateful session that has had no request for
	// this long. Default 30 minutes; negative means never.
	SessionTimeout time.Duration
	// MaxSessionsPerPrincipal bounds the stateful sessions one principal
	// holds at once; opening one more closes that principal's oldest
	// session, whose next request gets 404 (MCP clients then start a new
	// one). Default 16; negative means no bound.
	MaxSessionsPerPrincipal int
	// MaxBodyBytes bounds a POST body (413 beyond). Default 10 MB, the chat
	// handler's default, since chat requests are forwarded.
	MaxBodyBytes int64
	// Version is reported to clients and upstream servers as this gateway's
	// version.
	Version string
	// Logger receives connection changes and upstream failures, never
	// headers nor tool arguments; nil means none.
	Logger *zap.Logger
}

// withDefaults checks the servers and returns c with its defaults filled.
func (c Config) withDefaults() (Config, error) {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxSessionsPerPrincipal == 0 {
		c.MaxSessionsPerPrincipal = DefaultMaxSessionsPerPrincipal
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	servers := make([]ServerConfig, len(c.Servers))
	seen := make(map[string]bool, len(c.Servers))
	var errs []error
	for i, s := range c.Servers {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("mcp server %d (%q): %w", i, s.Name, err))
			continue
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("mcp server %d: the name %q is used twice", i, s.Name))
			continue
		}
		seen[s.Name] = true
		if s.Timeout <= 0 {
			s.Timeout = DefaultServerTimeout
		}
		servers[i] = s
	}
	c.Servers = servers
	return c, errors.Join(errs...)
}

func (s ServerConfig) validate() error {
	if err := ValidateServerName(s.Name); err != nil {
		return err
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("parsing url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("url must be an absolute http or https URL")
	}
	for name, value := range s.Headers {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			return fmt.Errorf("invalid header name %q", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			return fmt.Errorf("header %s: value contains a line break", http.CanonicalHeaderKey(name))
		}
	}
	return nil
}

// ValidateServerName checks an upstream server's name against the rules of
// ServerConfig.Name.
func ValidateServerName(name string) error {
	if name == "" {
		return errors.New("name is required")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("name %q: only ASCII letters, digits, '-' and '_' are allowed", name)
		}
	}
	if strings.Contains(name, ToolNameSeparator) || strings.HasSuffix(name, "_") {
		return fmt.Errorf("name %q must not contain %q nor end with '_'", name, ToolNameSeparator)
	}
	return nil
}

// ExposedToolName is the name clients see for a server's tool.
func ExposedToolName(server, tool string) string {
	return server + ToolNameSeparator + tool
}
