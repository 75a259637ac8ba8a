r"""Measure GO training throughput: PPO iterations/s and simulated graphs/s on random graphs.

Usage:
  python -m experiments.bench_train [--sizes=1000,10000] [--repeats=3] [--append=BENCHMARKS.md]
  python -m experiments.bench_train --config=experiments/configs/default.py --config.ppo.num_samples=32

Prints a markdown table; with ``--append`` also appends it, under the heading
"## GO training throughput (PPO iterations)", to that file (never overwriting it).
"""

from __future__ import annotations

import os
import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli
from go_jax.models import benchmark as model_benchmark
from go_jax.rl import benchmark

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/default.py", "Training config file.")
_SIZES = flags.DEFINE_list("sizes", ["1000", "10000"], "Node counts of the random graphs, run in this order.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed iterations per size after a warm-up iteration.")
_APPEND = flags.DEFINE_string("append", None, "Markdown file to append the results section to.")


def main(argv):
  del argv
  if _REPEATS.value < 1:
    cli.fail(f"--repeats must be >= 1, got {_REPEATS.value}")
  rows = []
  for size in _SIZES.value:
    if not size.isdigit() or int(size) < 1:
      cli.fail(f"--sizes must be positive node counts, got {size!r}")
    rows.append(benchmark.measure_iterations(_CONFIG.value, int(size), repeats=_REPEATS.value))
    print(benchmark.format_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
  load = f"; load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
  section = benchmark.benchmark_section(rows, _CONFIG.value,
                                        "python -m experiments.bench_train " + " ".join(sys.argv[1:]), load)
  print(section)
  if _APPEND.value:
    model_benchmark.append_section(_APPEND.value, section)


if __name__ == "__main__":
  cli.run(main)
