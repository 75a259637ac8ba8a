#!/usr/bin/env bash
# The main job on its embedded default: sets up .venv, then runs experiments.main.
# Extra arguments are passed on (e.g. ./run.sh --graph=gnmt_2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/ensure_venv.sh
exec .venv/bin/python -m experiments.main "$@"
