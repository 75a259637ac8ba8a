r"""Time the relaxed (differentiable) simulator: forward, and value+gradient two ways, side by side.

Usage:
  python -m experiments.bench_relaxed [--sizes=4000,16000,64000] [--cluster=v100x8] [--repeats=3]
      [--autodiff_up_to=64000] [--append=BENCHMARKS.md]

The gradient w.r.t. the placement probabilities is what the ``gradient``
baseline and GO-one's pathwise steps take every step. It runs with the
hand-written reverse pass (``simulator.relaxed._scan_rows``) and, up to
``--autodiff_up_to`` nodes, with JAX's own transpose of the same scan (the
previous implementation, O(N^2)). Prints a markdown table; ``--append`` also
appends it, with the machine and date, to that file.
"""

from __future__ import annotations

import sys

from absl import flags

from experiments import cli
from go_jax.models import benchmark
from simulator import bench
from simulator import cluster as cluster_lib

_SIZES = flags.DEFINE_list("sizes", ["4000", "16000", "64000"], "Node counts of the random graphs.")
_CLUSTER = flags.DEFINE_string("cluster", "v100x8", "Cluster preset or JSON.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed calls per measurement (the median is shown).")
_AUTODIFF_UP_TO = flags.DEFINE_integer("autodiff_up_to", 64000, "Largest graph timed with JAX's autodiff too.")
_APPEND = flags.DEFINE_string("append", None, "Markdown file to append the section to.")


def main(argv):
  del argv
  if any(not s.isdigit() or int(s) < 2 for s in _SIZES.value):
    cli.fail(f"--sizes: expected node counts >= 2, got {','.join(_SIZES.value)}")
  if _REPEATS.value < 1:
    cli.fail(f"--repeats: expected >= 1, got {_REPEATS.value}")
  cluster = cluster_lib.get_cluster(_CLUSTER.value)
  rows = []
  for size in _SIZES.value:
    rows.append(bench.measure_relaxed(int(size), cluster, _REPEATS.value, _AUTODIFF_UP_TO.value))
    print(bench.relaxed_table(rows[-1:]).splitlines()[-1], flush=True)
  section = (f"### Relaxed simulator gradient, {benchmark.machine_description()}, {cluster.name}, float32, "
             f"median of {_REPEATS.value}\n\nCommand: `python -m experiments.bench_relaxed "
             f"{' '.join(sys.argv[1:])}`\n\n{bench.relaxed_table(rows)}\n")
  print(section)
  if _APPEND.value:
    benchmark.append_section(_APPEND.value, section)


if __name__ == "__main__":
  cli.run(main)
