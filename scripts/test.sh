#!/usr/bin/env bash
# Set up, then run the whole test suite. pytest's exit 5 ("no tests collected") is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export DAGSTER_HOME="$PWD/.dagster"
.venv/bin/python -m pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
