package handlers

import (
	"context"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/caddy-llm/gateway/handlers/apierr"
	"github.com/caddy-llm/gateway/handlers/httpx"
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
	// Degradable reports whether the API still serves while the named
	// part is down: readiness then stays 200 with status "degraded" and
	// the part reported down, so that an outage every replica shares does
	// not take them all out of rotation. Nil: every part is required.
	Degradable func(part string) bool
	// ReadyCacheFor is how long one round of checks answers readiness
	// (default DefaultReadyCacheFor): the route is public, and a flood of
	// it must not become a flood of pings.
	ReadyCacheFor time.Duration

	readyMu     sync.Mutex
	readyAt     time.Time
	readyChecks map[string]error
}

// DefaultReadyCacheFor is how long a readiness result is reused by default.
const DefaultReadyCacheFor = time.Second

// The health routes. They need no principal, whatever the method: a wrong
// method on them is a 405, never a 401 (see publicRoutes).
const (
	pathHealthz = "/v1/healthz"
	pathReadyz  = "/v1/readyz"
	pathVersion = "/v1/version"
)

// Register adds GET /v1/healthz, /v1/readyz and /v1/version.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathHealthz, h.healthz)
	mux.HandleFunc("GET "+pathReadyz, h.readyz)
	mux.HandleFunc("GET "+pathVersion, h.version)
}

func (h *Health) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request) {
	if h.Ready == nil {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	checks := h.readiness(r.Context())
	report := make(map[string]string, len(checks))
	var names []string
	degraded := false
	for name, err := range checks {
		switch {
		case err == nil:
			report[name] = "up"
		case h.Degradable != nil && h.Degradable(name):
			report[name] = "down"
			degraded = true
		default:
			names = append(names, name)
			report[name] = "down"
		}
	}
	if len(names) == 0 {
		status := "ready"
		if degraded {
			status = "degraded"
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": status, "checks": report})
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

// readiness returns the result of the last round of checks while it is
// fresh, else runs a new round. Callers that arrive during a round wait for
// it rather than start their own. A round is not tied to the request that
// started it: a client that hangs up does not make it fail.
func (h *Health) readiness(ctx context.Context) map[string]error {
	cacheFor := h.ReadyCacheFor
	if cacheFor <= 0 {
		cacheFor = DefaultReadyCacheFor
	}
	h.readyMu.Lock()
	defer h.readyMu.Unlock()
	if h.readyChecks != nil && time.Since(h.readyAt) < cacheFor {
		return h.readyChecks
	}
	timeout := h.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	h.readyChecks = h.Ready(ctx)
	h.readyAt = time.Now()
	return h.readyChecks
}

type versionInfo struct {
	Version      string `json:"version"`
	Commit       string `json:"commit"`
	BuildTime    string `json:"build_time"`
	GoVersion    string `json:"go_version"`
	CaddyVersion string `json:"caddy_version"`
}

func (h *Health) version(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, versionInfo{
		Version:      Version,
		Commit:       Commit,
		BuildTime:    BuildTime,
		GoVersion:    runtime.Version(),
		CaddyVersion: h.CaddyVersion,
	})
}
