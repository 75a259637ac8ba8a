#!/usr/bin/env bash
# The test suite: sets up .venv, then runs pytest.
#   ./test.sh          fast suite (default; under 15 minutes on 2 cores)
#   ./test.sh --slow   only the slow checks (largest graphs, XLA comparisons)
#   ./test.sh --all    everything
# Other arguments go to pytest (e.g. ./test.sh tests/graph -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/ensure_venv.sh
marker=(-m "not slow")
args=()
for a in "$@"; do
  case "$a" in
    --slow) marker=(-m slow) ;;
    --all) marker=() ;;
    *) args+=("$a") ;;
  esac
done
export XLA_FLAGS="${XLA_FLAGS:---xla_force_host_platform_device_count=8}"
exec .venv/bin/python -m pytest -q "${marker[@]}" "${args[@]}"
