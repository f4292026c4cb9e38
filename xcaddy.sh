#!/usr/bin/env bash
# Builds, runs and tests the gateway.
#
#   ./xcaddy.sh            build bin/caddy (with xcaddy when installed, else go build ./caddy)
#   ./xcaddy.sh run [...]  build, then `bin/caddy run --config Caddyfile [...]`
#   ./xcaddy.sh test       go vet + go test -race on everything, against a real
#                          PostgreSQL and Redis (throwaway ones are started when
#                          none is reachable, and stopped afterwards)
#   ./xcaddy.sh bench      the benchmark of bench/ (see README, "Performance")
set -euo pipefail
cd "$(dirname "$0")"

MODULE=github.com/caddy-llm/gateway
CADDY_VERSION=v2.11.9

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-X ${MODULE}/handlers.Version=${version} -X ${MODULE}/handlers.Commit=${commit} -X ${MODULE}/handlers.BuildTime=${built}"

build() {
	mkdir -p bin
	if command -v xcaddy >/dev/null 2>&1; then
		XCADDY_SKIP_CLEANUP=0 xcaddy build "$CADDY_VERSION" --output bin/caddy \
			--with "${MODULE}=." >&2
	else
		go build -trimpath -ldflags "$ldflags" -o bin/caddy ./caddy
	fi
	echo "built bin/caddy ($version)" >&2
}

# ---- throwaway services for the test suite ----------------------------------

svc_dir=""
cleanup_services() {
	[ -n "$svc_dir" ] || return 0
	if [ -f "$svc_dir/redis.pid" ]; then
		kill "$(cat "$svc_dir/redis.pid")" 2>/dev/null || true
	fi
	if [ -d "$svc_dir/pg" ]; then
		as_pg_user "$(pg_bin pg_ctl)" -D "$svc_dir/pg" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$svc_dir"
}

free_port() {
	python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
EOF
}

pg_bin() {
	local name=$1 p
	if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
	for p in /usr/lib/postgresql/*/bin/"$name"; do [ -x "$p" ] && { echo "$p"; return; }; done
	return 1
}

# initdb and postgres refuse to run as root.
as_pg_user() {
	if [ "$(id -u)" = 0 ]; then
		local user=postgres
		id "$user" >/dev/null 2>&1 || user=nobody
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

ensure_packages() {
	local missing=()
	pg_bin initdb >/dev/null || missing+=(postgresql)
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing ${missing[*]}" >&2
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
	fi
}

# The browser test (caddy/cors_browser_test.go) drives headless Chromium; it
# skips, saying so, where none is installed.
ensure_chromium() {
	command -v chromium >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing chromium for the browser test" >&2
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 ||
			echo "could not install chromium: the browser test will be skipped" >&2
	fi
}

pg_reachable() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

redis_reachable() {
	local hostport=${1#redis://}
	hostport=${hostport%%/*}
	local host=${hostport%:*} port=${hostport##*:}
	timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG" 2>/dev/null
}

start_services() {
	svc_dir=$(mktemp -d /tmp/llmgw-test.XXXXXX)
	chmod 755 "$svc_dir"
	trap cleanup_services EXIT

	: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
	if ! pg_reachable "$TEST_DATABASE_URL"; then
		ensure_packages
		local port; port=$(free_port)
		echo "PostgreSQL not reachable; starting a throwaway instance on port $port" >&2
		mkdir -p "$svc_dir/pg"
		[ "$(id -u)" = 0 ] && chown "$(id -u postgres 2>/dev/null || id -u nobody)" "$svc_dir/pg"
		as_pg_user "$(pg_bin initdb)" -D "$svc_dir/pg" -U postgres --auth=trust -E UTF8 >/dev/null
		as_pg_user "$(pg_bin pg_ctl)" -D "$svc_dir/pg" -w -l "$svc_dir/pg/log" \
			-o "-p $port -k $svc_dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
		TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	fi

	: "${TEST_REDIS_URL:=redis://127.0.0.1:6379/0}"
	if ! redis_reachable "$TEST_REDIS_URL"; then
		ensure_packages
		local port; port=$(free_port)
		echo "Redis not reachable; starting a throwaway instance on port $port" >&2
		redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$svc_dir" --daemonize yes --pidfile "$svc_dir/redis.pid" --logfile "$svc_dir/redis.log"
		for _ in $(seq 50); do redis_reachable "redis://127.0.0.1:$port" && break; sleep 0.1; done
		TEST_REDIS_URL="redis://127.0.0.1:$port/0"
	fi
	export TEST_DATABASE_URL TEST_REDIS_URL
}

run_tests() {
	start_services
	ensure_chromium
	echo "== go vet" >&2
	go vet ./...
	echo "== go test -race (PostgreSQL and Redis at the TEST_*_URL above)" >&2
	# The integration package builds and runs bin/caddy for its multi-process
	# tests; build it first so the binary matches the tree under test.
	build
	LLMGW_USE_BIN=1 go test -race -count=1 -timeout 30m ./...
}

case "${1:-build}" in
build) build ;;
run) shift; build; exec bin/caddy run --config Caddyfile "$@" ;;
test) run_tests ;;
bench) shift; build; exec go run ./bench/cmd/llmbench "$@" ;;
*) echo "usage: $0 [build|run|test|bench]" >&2; exit 2 ;;
esac
