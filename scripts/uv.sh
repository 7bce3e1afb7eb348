#!/usr/bin/env bash
# Print the path of a pinned uv, installing it once under ~/.cache/pitchcraft.
set -euo pipefail
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pitchcraft"
UV_VERSION=0.13.8
if [ ! -x "$CACHE/uv/bin/uv" ] || [ "$("$CACHE/uv/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "installing uv $UV_VERSION into $CACHE/uv" >&2
    rm -rf "$CACHE/uv"
    python3 -m venv "$CACHE/uv"
    "$CACHE/uv/bin/pip" install --quiet "uv==$UV_VERSION"
fi
echo "$CACHE/uv/bin/uv"
