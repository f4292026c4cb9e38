package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Every test of this package logs at debug level, access logs included, into
// one file; the secrets the tests see (issued tokens, refresh tokens, API
// keys, provider keys, message contents) are remembered; and after the last
// test the log must contain none of them.

var (
	logFile     = filepath.Join(os.TempDir(), fmt.Sprintf("llmgw-caddy-test-%d.log", os.Getpid()))
	secretsMu   sync.Mutex
	seenSecrets = map[string]string{} // secret → what it is
)

// rememberSecret records a value that must never appear in a log.
func rememberSecret(what, value string) {
	if len(value) < 8 {
		return
	}
	secretsMu.Lock()
	seenSecrets[value] = what
	secretsMu.Unlock()
}

var (
	apiKeyPattern = regexp.MustCompile(`sk_[A-Za-z0-9_-]{16,}`)
	jwtPattern    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
)

// rememberSecretsIn records the secrets of a request or response body: API
// keys, JWTs, refresh tokens, and the contents of chat messages.
func rememberSecretsIn(body []byte) {
	for _, k := range apiKeyPattern.FindAll(body, -1) {
		rememberSecret("API key", string(k))
	}
	for _, tok := range jwtPattern.FindAll(body, -1) {
		rememberSecret("access token", string(tok))
	}
	var v struct {
		RefreshToken string `json:"refresh_token"`
		Messages     []struct {
			Content any `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &v) != nil {
		return
	}
	rememberSecret("refresh token", v.RefreshToken)
	for _, m := range v.Messages {
		if s, ok := m.Content.(string); ok && len(s) >= 16 {
			rememberSecret("message content", s)
		}
	}
}

func TestMain(m *testing.M) {
	_ = os.Remove(logFile)
	code := m.Run()
	if code == 0 {
		if leaks := secretsInLog(); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: secrets found in the gateway's logs (%s):\n%s\n", logFile, strings.Join(leaks, "\n"))
			code = 1
		} else {
			secretsMu.Lock()
			n := len(seenSecrets)
			secretsMu.Unlock()
			fmt.Fprintf(os.Stderr, "no secret of %d seen appears in the debug logs (%s)\n", n, logFile)
			_ = os.Remove(logFile)
		}
	}
	os.Exit(code)
}

func secretsInLog() []string {
	data, err := os.ReadFile(logFile)
	if errors.Is(err, fs.ErrNotExist) {
		// Only tests that run the default Caddyfile, which keeps
		// Caddy's own log, ran (a -run selection): nothing was logged
		// here to check.
		return nil
	}
	if err != nil {
		return []string{"reading the log file: " + err.Error()}
	}
	if len(data) == 0 {
		return []string{"the log file is empty: the debug logs were not captured"}
	}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	var leaks []string
	for s, what := range seenSecrets {
		if bytes.Contains(data, []byte(s)) {
			leaks = append(leaks, fmt.Sprintf("  a %s (%.12s…)", what, s))
		}
	}
	sort.Strings(leaks)
	return leaks
}

// appendToLog adds a process's output to the shared log file.
func appendToLog(output string) {
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(output)
}
