#!/usr/bin/env bash
# Idempotent set-up: uv, a virtual environment in .venv, the project with its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install -q uv
fi
if [ ! -x .venv/bin/python ]; then
  uv venv -q --python python3 .venv
fi
uv pip install -q --python .venv/bin/python -e '.[dev]'
mkdir -p .dagster
