#!/usr/bin/env bash
# Set up, then run sync_all on the embedded demo: both emulators on 127.0.0.1 with the small
# dataset, the pinned `dagster job execute -m assets.definitions -j sync_all` (twice: the second
# run is a no-op re-sync), a summary, and the emulators stopped again.
#   bash scripts/demo.sh --ui   serves the same set-up live in the Dagster UI (dagster dev) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m connector.demo "$@"
