#!/usr/bin/env bash
# The throughput, adapter and plugin benchmarks at full size on a machine with an NVIDIA GPU,
# each under its own time limit (about 10 minutes in all once installed), their JSON lines
# written to one file, one line a benchmark with its name added:
#
#   bash benchmarks/gpu_suite.sh [RESULTS]   (default: $OUT/gpu_suite.jsonl, else ./)
#
# It installs what it needs: the toolkit's .venv (scripts/setup.sh) and, in the model
# virtualenv, the CUDA build of vLLM (`pitchcraft model setup` picks `vllm` where nvidia-smi
# lists a GPU; both need the package registries or a wheel folder in PIP_FIND_LINKS). The
# base model is served with every shipped adapter as LoRA (on a GPU nothing is merged), and
# every benchmark reuses that server. Nothing in CI runs this script.
set -uo pipefail
cd "$(dirname "$0")/.."

results="${1:-${OUT:-.}/gpu_suite.jsonl}"
logs="$(dirname "$results")/gpu_suite_logs"
if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_suite: no NVIDIA GPU here (nvidia-smi -L failed); run the benchmarks one by one" >&2
    exit 2
fi
mkdir -p "$logs"
: >"$results"

step() { echo "gpu_suite: $*" >&2; }
step "installing (skipped where already done)"
bash scripts/setup.sh store model analytics >"$logs/setup.log" 2>&1 || { step "setup failed, see $logs/setup.log"; exit 1; }
.venv/bin/pitchcraft model setup >"$logs/model_setup.log" 2>&1 || { step "model setup failed, see $logs/model_setup.log"; exit 1; }
.venv/bin/pitchcraft ingest demo >"$logs/ingest.log" 2>&1 || { step "ingest failed, see $logs/ingest.log"; exit 1; }

step "serving the base model and every adapter"
.venv/bin/pitchcraft model serve --merge none >"$logs/serve.log" 2>&1 || { step "vLLM did not start, see $logs/serve.log"; exit 1; }
url=$(grep -o 'PITCHCRAFT_LLM_URL=[^ ]*' "$logs/serve.log" | tail -n 1 | cut -d= -f2)
trap '.venv/bin/pitchcraft model stop >/dev/null 2>&1' EXIT
export PITCHCRAFT_LLM_BACKEND=openai PITCHCRAFT_LLM_URL="$url" PYTHONPATH=.

# name, seconds at most, arguments: the benchmark's last line (its JSON) goes to $results.
bench() {
    local name=$1 limit=$2
    shift 2
    step "$name $* (at most ${limit}s)"
    local started=$SECONDS
    timeout "$limit" .venv/bin/python -m "benchmarks.$name" "$@" >"$logs/$name.log" 2>&1
    local rc=$?
    .venv/bin/python - "$name" "$rc" "$((SECONDS - started))" "$logs/$name.log" >>"$results" <<'EOF'
import json, sys
name, rc, seconds, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lines = [l for l in open(log, encoding="utf-8", errors="replace") if l.startswith("{")]
figures = json.loads(lines[-1]) if rc == 0 and lines else {"error": f"exit status {rc}"}
print(json.dumps({"benchmark": name, "seconds": seconds, **figures}, ensure_ascii=False))
EOF
}

bench llm_throughput 200
bench adapters_eval 240
bench plugin_throughput 180 --engines vllm
step "done: $results"
cat "$results"
