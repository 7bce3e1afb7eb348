#!/usr/bin/env bash
# Quick start, command 1: set up (or update) .venv and show pitchcraft working.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh store
echo
echo "$ pitchcraft plugins list"
.venv/bin/pitchcraft plugins list
echo
echo "$ pitchcraft run ab-test --json @examples/requests/ab-test.json"
.venv/bin/pitchcraft run ab-test --json @examples/requests/ab-test.json
