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
# One pytest worker per core (at most 4; GO_JAX_TEST_WORKERS overrides, 0 = no workers): XLA
# compiles on one thread, so a second worker keeps the other core busy. Whole files go to one
# worker, so a module's tests still share their compilations.
workers="${GO_JAX_TEST_WORKERS:-$(nproc 2>/dev/null || echo 1)}"
[ "$workers" -gt 4 ] && workers=4
[ "$workers" -lt 2 ] && workers=0
exec .venv/bin/python -m pytest -q -n "$workers" --dist loadfile --durations=15 "${marker[@]}" "${args[@]}"
