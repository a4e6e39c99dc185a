#!/usr/bin/env bash
# README command (2): set up and run every check and the whole test suite.
#
#   bash infra/test.sh [extra pytest arguments]
#
# Installs the project with its dev extra into .venv, makes sure PostgreSQL
# (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer — starting them if they are
# down — then runs ruff, mypy and pytest. The integration tests stand for production:
# if either service cannot be reached this FAILS, it never skips them.
# Exit code: pytest's when it fails (5, "no tests collected", counts as failure);
# otherwise 1 if ruff or mypy found something, else 0.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)
# shellcheck source=infra/setup.sh
source infra/setup.sh
setup_venv dev

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_HOST=127.0.0.1 REDIS_PORT=6379

port_open() {  # port_open HOST PORT: a TCP connect, for when the clients are missing
    .venv/bin/python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

postgres_ready() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
    else
        port_open "$PG_HOST" "$PG_PORT"
    fi
}

redis_ready() {
    if command -v redis-cli >/dev/null; then
        [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
    else
        port_open "$REDIS_HOST" "$REDIS_PORT"
    fi
}

start_postgres() {  # the machine's own cluster (shared/stack-notes.md)
    command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] || return 0
    local version
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
}

start_redis() {
    command -v redis-server >/dev/null || return 0
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
}

ensure_service() {  # ensure_service NAME READY_FN START_FN
    local name="$1" ready="$2" start="$3" i
    "$ready" && return 0
    echo "==> $name does not answer; starting it"
    "$start"
    for i in $(seq 1 30); do
        "$ready" && { echo "==> $name is up"; return 0; }
        sleep 1
    done
    echo "FAILED: $name is not reachable; its tests cannot run and are never skipped." >&2
    exit 1
}

ensure_service "PostgreSQL at $PG_HOST:$PG_PORT" postgres_ready start_postgres
ensure_service "Redis at $REDIS_HOST:$REDIS_PORT" redis_ready start_redis
export WATTPASS_TEST_PG="${WATTPASS_TEST_PG:-postgresql://postgres@$PG_HOST:$PG_PORT/postgres}"
export WATTPASS_TEST_REDIS="${WATTPASS_TEST_REDIS:-redis://$REDIS_HOST:$REDIS_PORT/15}"

lint_failed=0
step() {  # step TITLE COMMAND...: run a check, remember a failure, go on
    echo "==> $1"
    shift
    "$@" || lint_failed=1
}
step "ruff check" .venv/bin/ruff check .
step "ruff format --check" .venv/bin/ruff format --check .
step "mypy (configured in pyproject.toml)" .venv/bin/mypy

echo "==> pytest"
# Two workers: each gets its own PostgreSQL database (tests/conftest.py).
set +e
.venv/bin/pytest -n 2 "$@"
rc=$?
set -e
echo "==> finished in $(($(date +%s) - started)) s"
if [ "$rc" -eq 5 ]; then
    echo "FAILED: pytest collected no tests." >&2
    exit 5
fi
if [ "$rc" -ne 0 ]; then
    echo "FAILED: pytest exited with $rc." >&2
    exit "$rc"
fi
if [ "$lint_failed" -ne 0 ]; then
    echo "FAILED: ruff or mypy found problems (see above)." >&2
    exit 1
fi
echo "All checks passed."
