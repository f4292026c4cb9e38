package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// neverRefuse is the rate given to every limit of the shipped Caddyfile:
// the limiters still ask Redis and decide on every request, but never
// refuse one in a benchmark.
const neverRefuse = "100000000/min"

// caddyfileVars finds the environment variables a Caddyfile reads:
// {$NAME}, {$NAME:default} and {env.NAME}.
var caddyfileVars = regexp.MustCompile(`\{(?:\$|env\.)([A-Za-z_][A-Za-z0-9_]*)`)

// shippedRun is how the benchmark runs the repository's default Caddyfile,
// unchanged: only environment variables differ from a user's start. The
// sites listen on free loopback ports, the vLLM provider (discover_models)
// points at the fake upstream, the limits are raised so that they decide
// but never refuse, and OIDC trusts the benchmark's issuer (a regular user
// creates the API key). Every other variable the Caddyfile reads is
// removed from the inherited environment, so that a developer's OPENAI_API_KEY
// or LOG_LEVEL does not change what is measured: the log level stays the
// default, info.
func shippedRun(caddyfile, dir string, g gatewayConfig, databaseURL string) (caddyRun, error) {
	src, err := os.ReadFile(caddyfile)
	if err != nil {
		return caddyRun{}, fmt.Errorf("reading the default Caddyfile: %w", err)
	}
	return shippedRunOf(caddyfile, src, dir, g, databaseURL)
}

// meteringOffRun is shippedRun with one change, for scenario (u): usage
// metering turned off (`off` in the `usage` block), so that (c) − (u) is
// what metering costs. The changed copy is written into dir.
func meteringOffRun(caddyfile, dir string, g gatewayConfig) (caddyRun, error) {
	src, err := os.ReadFile(caddyfile)
	if err != nil {
		return caddyRun{}, fmt.Errorf("reading the default Caddyfile: %w", err)
	}
	const block = "\t\tusage {\n"
	if strings.Count(string(src), block) != 1 {
		return caddyRun{}, fmt.Errorf("%s: no single usage block to turn metering off in", caddyfile)
	}
	src = []byte(strings.Replace(string(src), block, block+"\t\t\toff\n", 1))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return caddyRun{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	changed := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(changed, src, 0o600); err != nil {
		return caddyRun{}, fmt.Errorf("writing %s: %w", changed, err)
	}
	return shippedRunOf(changed, src, dir, g, "")
}

// shippedRunOf is shippedRun for the Caddyfile caddyfile, whose text is src.
func shippedRunOf(caddyfile string, src []byte, dir string, g gatewayConfig, databaseURL string) (caddyRun, error) {
	var err error
	var drop []string
	for _, m := range caddyfileVars.FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(drop, m[1]) {
			drop = append(drop, m[1])
		}
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return caddyRun{}, err
		}
	}
	env := []string{
		// The shipped address is ":8000": no host, no automatic HTTPS, no
		// host matcher. Caddy listens on every interface either way; the
		// benchmark only sends to loopback.
		"SITE_ADDRESS=:" + strconv.Itoa(ports[0]),
		// The direct listener (no limits) is not measured; it only needs a
		// free port. HTTP_BIND_ADDRESS keeps it on loopback where the Caddyfile
		// reads it.
		"HTTP_PORT=" + strconv.Itoa(ports[1]),
		"HTTP_BIND_ADDRESS=127.0.0.1",
		"ADMIN_ADDRESS=127.0.0.1:" + strconv.Itoa(ports[2]),
		"INFERENCE_BASE_URL=http://" + g.upstreamAddr + "/v1",
		"REDIS_URL=" + g.redisURL,
		"RATE_LIMIT_PER_IP=" + neverRefuse,
		"RATE_LIMIT_USER=" + neverRefuse,
		"RATE_LIMIT_API_KEY=" + neverRefuse,
		"RATE_LIMIT_GUEST=" + neverRefuse,
		"JWKS_URL=" + g.issuer.JWKSURL,
		"ISSUER=" + oidcIssuer,
		"ACCOUNT=" + oidcAudience,
	}
	if databaseURL != "" {
		env = append(env, "DATABASE_URL="+databaseURL)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return caddyRun{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	return caddyRun{
		name: filepath.Base(dir), dir: dir, file: caddyfile, env: env, drop: drop,
		port: ports[0], adminPort: ports[2], readyPath: "/v1/healthz",
	}, nil
}
