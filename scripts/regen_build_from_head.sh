#!/usr/bin/env bash
# Regenerates BUILD from the committed tree only (untracked work in progress is
# left out), then writes it into this checkout. Commit BUILD afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive HEAD | tar -x -C "$tmp"
python3 "$tmp/scripts/gen_build.py" > BUILD
