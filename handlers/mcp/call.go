package mcp

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap"
)

// callHandler proxies calls of one of the server's tools, known to it as
// tool.
func (u *upstream) callHandler(tool string) sdk.ToolHandler {
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return u.call(ctx, tool, req)
	}
}

// call sends a tools/call to the server within its timeout and returns the
// server's result as it is. Every failure of the server — down, too slow,
// refusing the call — is a tool error (a result with isError) that tells the
// model what happened, so a call never hangs and never fails the whole
// JSON-RPC exchange. Only the client's own cancellation is returned as an
// error.
func (u *upstream) call(ctx context.Context, tool string, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
	cs := u.session.Load()
	if cs == nil {
		return toolError("MCP server %q is not connected; try again later", u.cfg.Name), nil
	}
	params := &sdk.CallToolParams{Name: tool}
	if req.Params != nil && len(req.Params.Arguments) > 0 {
		params.Arguments = req.Params.Arguments
	}
	callCtx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	res, err := cs.CallTool(callCtx, params)
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		u.logger.Warn("a tool call timed out", zap.String("tool", tool), zap.Duration("timeout", u.cfg.Timeout))
		return toolError("tool %q of MCP server %q did not answer within %s", tool, u.cfg.Name, u.cfg.Timeout), nil
	}
	var wireErr *jsonrpc.Error
	if errors.As(err, &wireErr) {
		return toolError("MCP server %q refused the call of tool %q: %s", u.cfg.Name, tool, wireErr.Message), nil
	}
	// Transport errors name internal addresses: log them, do not return them.
	u.logger.Warn("a tool call failed", zap.String("tool", tool), zap.Error(err))
	return toolError("MCP server %q could not be reached", u.cfg.Name), nil
}

// toolError is a tool result that reports a failure to the model.
func toolError(format string, args ...any) *sdk.CallToolResult {
	return &sdk.CallToolResult{
		IsError: true,
		Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf(format, args...)}},
	}
}
