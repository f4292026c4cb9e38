package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"sort"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
)

// Build information, stamped by xcaddy.sh through -ldflags -X.
var (
	Version   = "dev"
	Commit    = "unknown"
	BuildTime = "unknown"
)

// Health serves the liveness, readiness and version routes. They need no
// principal.
type Health struct {
	// Ready checks every part the API depends on and reports each by name
	// ("database", "redis") with nil when it is up. Nil means always ready.
	Ready func(ctx context.Context) map[string]error
	// CaddyVersion is reported by /v1/version.
	CaddyVersion string
	// ReadyTimeout bounds the readiness checks (default 2s).
	ReadyTimeout time.Duration
}

// Register adds GET /v1/healthz, /v1/readyz and /v1/version.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/healthz", h.healthz)
	mux.HandleFunc("GET /v1/readyz", h.readyz)
	mux.HandleFunc("GET /v1/version", h.version)
}

// IsPublicPath reports whether the path is one of the health routes, which
// need no authentication.
func IsPublicPath(path string) bool {
	switch path {
	case "/v1/healthz", "/v1/readyz", "/v1/version":
		return true
	}
	return false
}

func (h *Health) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request) {
	if h.Ready == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	timeout := h.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	checks := h.Ready(ctx)
	report := make(map[string]string, len(checks))
	var names []string
	for name, err := range checks {
		if err != nil {
			names = append(names, name)
			report[name] = "down"
		} else {
			report[name] = "up"
		}
	}
	if len(names) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": report})
		return
	}
	sort.Strings(names)
	msg := "not ready: "
	for i, name := range names {
		if i > 0 {
			msg += ", "
		}
		// The cause stays in the server's logs; clients learn only which
		// part is down.
		msg += name + " unavailable"
	}
	apierr.WriteStatus(w, http.StatusServiceUnavailable, "not_ready", msg)
}

type versionInfo struct {
	Version      string `json:"version"`
	Commit       string `json:"commit"`
	BuildTime    string `json:"build_time"`
	GoVersion    string `json:"go_version"`
	CaddyVersion string `json:"caddy_version"`
}

func (h *Health) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versionInfo{
		Version:      Version,
		Commit:       Commit,
		BuildTime:    BuildTime,
		GoVersion:    runtime.Version(),
		CaddyVersion: h.CaddyVersion,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
