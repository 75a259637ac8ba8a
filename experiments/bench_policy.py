r"""Measure time and memory of one policy forward + backward pass on random graphs.

Usage:
  python -m experiments.bench_policy --sizes=1000,10000 [--repeats=3] [--append=BENCHMARKS.md]
  python -m experiments.bench_policy --sizes=50000,80000 --repeats=0 --config.segment_length=512

Prints a markdown table; with ``--append`` also appends it, under the heading
"## Policy forward+backward", to that file (never overwriting it).
"""

from __future__ import annotations

import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli
from go_jax.models import benchmark
from go_jax.models import config as config_lib

_CONFIG = config_flags.DEFINE_config_dict("config", config_lib.get_model_config(), "Model config.")
_SIZES = flags.DEFINE_list("sizes", ["1000", "10000", "50000", "80000"], "Node counts, run in this order.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed steps per size after a warm-up step.")
_NUM_DEVICES = flags.DEFINE_integer("num_devices", 8, "Devices available to the placement head.")
_APPEND = flags.DEFINE_string("append", None, "Markdown file to append the results section to.")


def main(argv):
  del argv
  config = _CONFIG.value
  rows = []
  for size in _SIZES.value:
    if not size.isdigit() or int(size) < 1:
      cli.fail(f"--sizes must be positive node counts, got {size!r}")
    rows.append(benchmark.measure_step(config, int(size), num_devices=_NUM_DEVICES.value,
                                       repeats=_REPEATS.value))
    print(benchmark.format_table(rows[-1:]).splitlines()[-1], flush=True)
  section = benchmark.benchmark_section(rows, config, "python -m experiments.bench_policy " + " ".join(sys.argv[1:]))
  print(section)
  if _APPEND.value:
    benchmark.append_section(_APPEND.value, section)


if __name__ == "__main__":
  cli.run(main)
