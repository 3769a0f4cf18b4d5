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
echo "== pytest"
set +e
"$BIN/python" -m pytest --cov=steadyllm --cov-report=term-missing:skip-covered \
    --cov-fail-under=90 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: the suite is broken" >&2
    exit 1
fi
exit "$status"
