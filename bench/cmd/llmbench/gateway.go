package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// errNotAvailable marks a feature the gateway under test does not offer
// (yet): the scenario is reported as not available instead of failing the
// run.
var errNotAvailable = errors.New("not available")

// setupClient is for the few requests that set a scenario up.
var setupClient = &http.Client{Timeout: 10 * time.Second}

// apiCall sends a JSON request and returns the status and body.
func apiCall(ctx context.Context, method, url string, header http.Header, body any) (int, []byte, error) {
	status, _, out, err := apiCallHeader(ctx, method, url, header, body)
	return status, out, err
}

// apiCallHeader is apiCall that also returns the response's header.
func apiCallHeader(ctx context.Context, method, url string, header http.Header, body any) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("encoding the request to %s: %w", url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	return resp.StatusCode, resp.Header, out, nil
}

// brief shortens an answer for an error message.
func brief(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// createAPIKey signs in with an OIDC token (a regular user: guests may not
// create API keys) and creates the API key the measured requests use.
func createAPIKey(ctx context.Context, base string, issuer *oidcIssuerServer, subject string) (string, error) {
	tok, err := issuer.token(subject)
	if err != nil {
		return "", err
	}
	h := http.Header{"Authorization": {"Bearer " + tok}}
	status, body, err := apiCall(ctx, http.MethodPost, base+"/llm/auth/api-keys", h, map[string]string{"name": "llmbench"})
	if err != nil {
		return "", fmt.Errorf("creating an API key: %w", err)
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("creating an API key: status %d: %s", status, brief(body))
	}
	var created struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &created); err != nil || !strings.HasPrefix(created.Key, "sk_") {
		return "", fmt.Errorf("creating an API key: no sk_ key in %s", brief(body))
	}
	return created.Key, nil
}

// probeChat sends one chat request and checks that a completion comes
// back, authenticated by the API key and counted by the rate limiter.
func probeChat(ctx context.Context, base string, header http.Header, body []byte) error {
	status, h, out, err := apiCallHeader(ctx, http.MethodPost, base+"/v1/chat/completions", header, json.RawMessage(body))
	if err != nil {
		return fmt.Errorf("probing chat: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("probing chat: status %d: %s", status, brief(out))
	}
	if m := h.Get("X-Auth-Method"); m != "apikey" {
		return fmt.Errorf("probing chat: X-Auth-Method is %q, not apikey", m)
	}
	if h.Get("X-RateLimit-Limit") == "" {
		return fmt.Errorf("probing chat: no X-RateLimit-Limit header: the rate limiter did not decide")
	}
	var c struct {
		Choices []json.RawMessage `json:"choices"`
	}
	if err := json.Unmarshal(out, &c); err != nil || len(c.Choices) == 0 {
		return fmt.Errorf("probing chat: no choices in %s", brief(out))
	}
	return nil
}

// createConversations creates n conversations and returns their ids.
func createConversations(ctx context.Context, base string, header http.Header, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for range n {
		status, body, err := apiCall(ctx, http.MethodPost, base+"/v1/conversations", header, map[string]any{})
		if err != nil {
			return nil, fmt.Errorf("creating a conversation: %w", err)
		}
		if status != http.StatusOK && status != http.StatusCreated {
			return nil, fmt.Errorf("creating a conversation: status %d: %s", status, brief(body))
		}
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &c); err != nil || c.ID == "" {
			return nil, fmt.Errorf("creating a conversation: no id in %s", brief(body))
		}
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// probeConversationTurn checks that a chat request naming a conversation
// with "store": true is accepted and appends the turn to the conversation.
// A gateway without conversation persistence answers 4xx or stores
// nothing: errNotAvailable.
func probeConversationTurn(ctx context.Context, base string, header http.Header, conv string) error {
	status, out, err := apiCall(ctx, http.MethodPost, base+"/v1/chat/completions", header,
		json.RawMessage(chatBody(fastModel, false, false, conv)))
	if err != nil {
		return fmt.Errorf("probing a conversation turn: %w", err)
	}
	if status >= 400 && status < 500 {
		return fmt.Errorf("%w: the gateway answered a stored chat turn with %d: %s", errNotAvailable, status, brief(out))
	}
	if status != http.StatusOK {
		return fmt.Errorf("probing a conversation turn: status %d: %s", status, brief(out))
	}
	status, out, err = apiCall(ctx, http.MethodGet, base+"/v1/conversations/"+conv+"/items", header, nil)
	if err != nil {
		return fmt.Errorf("probing a conversation turn: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("probing a conversation turn: listing items: status %d: %s", status, brief(out))
	}
	var items struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &items); err != nil {
		return fmt.Errorf("probing a conversation turn: listing items: %s", brief(out))
	}
	if len(items.Data) < 2 {
		return fmt.Errorf("%w: the gateway accepted a chat turn with \"store\": true but the conversation holds %d items, not the user message and the reply", errNotAvailable, len(items.Data))
	}
	return nil
}

// chatBody is the body of a measured chat request: one user message; a
// stream asks for usage, as the gateway's metering clients do; conv, when
// set, makes it a stored turn of that conversation.
func chatBody(model string, stream, includeUsage bool, conv string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":`)
	writeJSONString(&b, model)
	b.WriteString(`,"messages":[{"role":"user","content":"Write a short poem about benchmarks."}],"max_tokens":256`)
	if stream {
		b.WriteString(`,"stream":true`)
		if includeUsage {
			b.WriteString(`,"stream_options":{"include_usage":true}`)
		}
	}
	if conv != "" {
		b.WriteString(`,"store":true,"conversation":`)
		writeJSONString(&b, conv)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}
