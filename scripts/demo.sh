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
# The support responder quoting its sources (the demo set-up has no local model installed).
export PITCHCRAFT_PLUGIN_OPTIONS='{"support": {"use_model": false}}'
pc run support --json '{"message": "退货期限是多久？", "session_id": "demo"}'
pc run support --json '{"message": "那拆封的笔记本电脑呢？", "session_id": "demo"}'
pc run support --json '{"message": "Where is my order LL-100004? Can I return it?"}'
# The recommender for a free-text need in Chinese (template reasons: no local model here).
export PITCHCRAFT_PLUGIN_OPTIONS='{"recommender": {"use_model": false}}'
pc run recommender --json '{"need": "运动相机，500美元以内", "k": 3}'
