// Package mcp serves POST/GET/DELETE /v1/mcp: a Model Context Protocol
// server over the Streamable HTTP transport that aggregates the tools of
// configured upstream MCP servers. The protocol itself is the official MCP
// Go SDK's (github.com/modelcontextprotocol/go-sdk); this package decides
// which tools exist and where calls go.
//
// # Tool names
//
// A tool "search" of the upstream server named "docs" is offered as
// "docs__search": the server's name, "__", the tool's name on the server.
// Server names are letters, digits, '-' and '_', never contain "__" and
// never end with '_', so the first "__" of an exposed name always ends the
// server's name and two servers' tools cannot clash (ValidateServerName).
//
// # Upstream servers
//
// The aggregator keeps one session per upstream server, opened in the
// background: a server that is down at start does not prevent start; the
// gateway retries with exponential backoff (up to 30s) and offers the
// server's tools once connected, telling clients with
// notifications/tools/list_changed. The tool list follows the server's own
// notifications/tools/list_changed, and a new aggregator — with fresh lists
// — is built on every configuration reload. A server whose session ends
// (restart, failed pings) has its tools withdrawn until it is back.
//
// tools/call is forwarded to the tool's server within that server's
// timeout. Any failure of the server — not connected, too slow, refusing
// the call, unreachable — comes back as a tool result with isError set and
// a message for the model, never as a hung call.
//
// # Sessions and replicas
//
// By default sessions are stateful, as the transport defines them: the
// answer to initialize carries Mcp-Session-Id, GET opens the server's SSE
// stream (where tools/list_changed arrives) and DELETE ends the session.
// Each session is bound to the principal that created it. A session lives
// in the memory of the replica that created it: behind a load balancer
// that spreads requests over several replicas, set Config.Stateless, which
// serves every POST on its own (no session id; GET and DELETE answer 405;
// clients of protocol 2026-07-28 still get list changes through
// subscriptions/listen). On reload, or when a session idles past
// SessionTimeout, the session ends and the client's next request gets 404,
// which tells MCP clients to initialize again.
//
// # Chat requests
//
// The specification's example posts a chat completion request with tools
// to /v1/mcp and expects a chat.completion back. A POST body that is a JSON
// object without a "jsonrpc" member is therefore handed, unchanged, to the
// chat completions handler.
package mcp
