#!/usr/bin/env bash
# Regenerate constraints.txt (every extra, Python 3.11, CPU torch). Run after changing dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=$(bash scripts/uv.sh)
"$UV" pip compile pyproject.toml --all-extras --python-version 3.11 \
    --find-links /opt/wheels --no-header --no-annotate --quiet -o constraints.txt
echo "wrote constraints.txt ($(grep -c '==' constraints.txt) pins)"
