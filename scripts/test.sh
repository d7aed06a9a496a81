#!/usr/bin/env bash
# Set up, check (ruff, mypy), then run the whole test suite. pytest's exit 5 ("no tests
# collected") is a failure. Arguments go to pytest; SKIP_CHECKS=1 skips ruff and mypy.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export DAGSTER_HOME="$PWD/.dagster"
if [ "${SKIP_CHECKS:-0}" != "1" ]; then
  echo "ruff check (lint and import order; settings in pyproject.toml)"
  .venv/bin/ruff check || exit 1
  echo "mypy (the HTTP layer and both clients; settings in pyproject.toml)"
  .venv/bin/mypy || exit 1
fi
.venv/bin/python -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
