r"""Measure zero-shot inference of a pretrained GO policy: cold and warm, beside a heuristic.

Usage:
  python -m experiments.bench_zero_shot [--graphs=random:1000,random:10000,inception_v3,gnmt_8]
      [--cluster=v100x4] [--checkpoint=DIR] [--heuristic=heft] [--repeats=3] [--append=BENCHMARKS.md]

Each ``--graphs`` item is a graph file or workload name (as for
``experiments.optimize``) or ``random:N``, a random layered graph of N nodes
(:func:`simulator.bench.random_graph`). Prints one row per graph as it
finishes, then the markdown section; with ``--append`` also appends it, under
the heading "## Zero-shot inference (pretrained policy)", to that file (never
overwriting it). Without ``--checkpoint`` it times the shipped policy.
"""

from __future__ import annotations

import os
import sys
import time

from absl import flags

from experiments import cli
from experiments import simulate_lib
from go_jax import baselines
from go_jax import errors
from go_jax.graph import loading
from go_jax.models import benchmark as model_benchmark
from go_jax.rl import benchmark
from go_jax.rl import pretrained as pretrained_lib
from simulator import bench as simulator_bench

_GRAPHS = flags.DEFINE_list("graphs", ["random:1000", "random:10000", "inception_v3", "gnmt_8"],
                            "Graph files, workload names or random:N items, run in this order.")
_CLUSTER = flags.DEFINE_string("cluster", "v100x4", "Cluster preset or JSON file.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "GO run directory (default: the shipped policy).")
_HEURISTIC = flags.DEFINE_string("heuristic", "heft", "Constructive baseline timed beside the policy.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Warm calls per median.")
_APPEND = flags.DEFINE_string("append", None, "Markdown file to append the results section to.")


def load(spec: str):
  """A graph from a ``--graphs`` item (``random:N``, a file or a workload name)."""
  if spec.startswith("random:"):
    size = spec.split(":", 1)[1]
    if not size.isdigit() or int(size) < 2:
      raise errors.InputError(f"--graphs item {spec!r}: random:N needs a node count N >= 2")
    return simulator_bench.random_graph(int(size))
  return loading.load_graph(spec)


def main(argv):
  del argv
  if _REPEATS.value < 1:
    cli.fail(f"--repeats must be >= 1, got {_REPEATS.value}")
  if _HEURISTIC.value not in baselines.METHODS:
    cli.fail(f"--heuristic={_HEURISTIC.value}: unknown method (known: "
             f"{', '.join(sorted(baselines.METHODS))})")
  cluster = simulate_lib.load_cluster(_CLUSTER.value, None)
  start = time.perf_counter()
  policy = pretrained_lib.load_policy(_CHECKPOINT.value)
  load_seconds = time.perf_counter() - start
  rows = []
  for spec in _GRAPHS.value:
    graph = load(spec)
    rows.append(benchmark.measure_zero_shot(policy, graph, cluster, repeats=_REPEATS.value,
                                            heuristic=_HEURISTIC.value))
    print(benchmark.zero_shot_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
  load_average = f"; load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
  section = benchmark.zero_shot_section(rows, policy, cluster, load_seconds,
                                        "python -m experiments.bench_zero_shot " + " ".join(sys.argv[1:]),
                                        load_average)
  print(section)
  if _APPEND.value:
    model_benchmark.append_section(_APPEND.value, section)


if __name__ == "__main__":
  cli.run(main)
