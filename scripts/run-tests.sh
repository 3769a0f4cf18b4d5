#!/usr/bin/env bash
# Runs the whole suite: lint, strict types, then pytest with coverage.
# Services the tests need are started here on free loopback ports and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"

echo "== ruff"
"$BIN/ruff" check src tests benchmarks scripts
echo "== mypy --strict"
"$BIN/mypy"
echo "== redis-server, tinyproxy, microsocks (for the shared-state and proxy tests)"
missing=""
for program in redis-server tinyproxy microsocks; do
    command -v "$program" >/dev/null 2>&1 || missing="$missing $program"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# The proxy tests start their own tinyproxy and microsocks; here they must not skip.
export STEADYLLM_TEST_SERVICES=required
REDIS_DIR="$(mktemp -d)"
REDIS_PORT="$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$REDIS_DIR" >"$REDIS_DIR/redis.log" 2>&1 &
REDIS_PID=$!
stop_redis() {
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    rm -rf "$REDIS_DIR"
}
trap stop_redis EXIT
for _ in $(seq 1 100); do
    "$BIN/python" -c "import socket, sys; socket.create_connection(('127.0.0.1', $REDIS_PORT), 0.1)" \
        2>/dev/null && break
    sleep 0.05
done
export STEADYLLM_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
echo "redis-server on 127.0.0.1:$REDIS_PORT"

echo "== pytest"
set +e
# One worker per core (at most four): most tests wait on real servers and real time,
# so two workers on two cores halve the run; coverage is combined across them.
"$BIN/python" -m pytest --numprocesses=auto --maxprocesses=4 \
    --cov=steadyllm --cov-report=term-missing:skip-covered --cov-fail-under=95 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: the suite is broken" >&2
    exit 1
fi
exit "$status"
