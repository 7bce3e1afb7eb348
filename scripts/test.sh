#!/usr/bin/env bash
# Quick start, command 2: set up (or update) .venv with the dev tools, lint, run the tests.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k registry
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh store model analytics api demo dev scale
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The embedded model folder and the vLLM virtualenv, cached under ~/.cache/pitchcraft.
.venv/bin/pitchcraft model setup
.venv/bin/python -m pytest "$@"
