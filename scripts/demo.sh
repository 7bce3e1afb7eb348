#!/usr/bin/env bash
# Quick start, command 1: set up (or update) .venv, load the demo shop, show pitchcraft working.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh store analytics
pc() { echo; echo "\$ pitchcraft $*"; .venv/bin/pitchcraft "$@"; }
pc plugins list
pc ingest demo
pc store search "降噪耳机" -k 5 -f max_price=200
pc store search "how long do refunds take?" -c knowledge -k 2
pc run ab-test --json @examples/requests/ab-test.json
