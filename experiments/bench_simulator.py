r"""Benchmarks the reference and both JAX engines; appends the table to BENCHMARKS.md.

  python -m experiments.bench_simulator            # ~1k/10k/50k random + real graphs, batch 1/64/256,
                                                   # scan and fixed point (the latter up to 2k nodes)
  python -m experiments.bench_simulator --quick    # scan engine, ~1k and ~10k random graphs, batch 256

Every batch runs unsharded and split over one host device per CPU core
(``simulate_batch(num_shards=C)``; ``--quick``: only split); unless XLA_FLAGS already says otherwise,
this module asks XLA for C host devices before JAX starts.
"""

import datetime
import os
import platform

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count={os.cpu_count() or 1}").strip()

from absl import app
from absl import flags
import jax

from simulator import bench
from simulator import cluster as cluster_lib

_QUICK = flags.DEFINE_bool("quick", False, "Only ~1k and ~10k random graphs at batch 256; last line JSON.")
_CLUSTER = flags.DEFINE_string("cluster", "v100x4", "Cluster preset or JSON.")
_DATA = flags.DEFINE_string("data", "../shared/data/dnn-partitioning", "dnn-partitioning folder (real graphs).")
_WORKLOADS = flags.DEFINE_list("workloads", ["txl_8"], "go_jax.workloads graphs for the full run.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timing repeats (the table shows the median).")
_STAGES = flags.DEFINE_bool("stages", False, "Also time each scan-engine stage alone (~1k and ~10k nodes, batch 256).")
_OUTPUT = flags.DEFINE_string("output", "BENCHMARKS.md", "Markdown file to append to ('' = none).")


def main(argv):
  del argv
  cluster = cluster_lib.get_cluster(_CLUSTER.value, 4)
  sizes, batches = ((1000, 10000), (256,)) if _QUICK.value else ((1000, 10000, 50000), (1, 64, 256))
  engines = ("scan",) if _QUICK.value else ("scan", "fixed_point")
  # --quick times only the widest split (the one its JSON line reports) to stay under a minute;
  # the full run compares one device with all of them.
  shards = (jax.local_device_count(),) if _QUICK.value else tuple(sorted({1, jax.local_device_count()}))
  rows = []
  for n in sizes:
    new = bench.measure(bench.random_graph(n), cluster, batches, engines, min_seconds=0.3 if _QUICK.value else 1.0,
                        repeats=_REPEATS.value, shards=shards)
    rows += new
    print(bench.table(new), flush=True)
  if not _QUICK.value:
    from go_jax import workloads  # pylint: disable=g-import-not-at-top
    graphs = [workloads.get_graph(name) for name in _WORKLOADS.value]
    graphs += list(bench.real_graphs(_DATA.value).values())
    for graph in graphs:
      new = bench.measure(graph, cluster, batches, engines, repeats=_REPEATS.value, shards=shards)
      rows += new
      print(bench.table(new), flush=True)
  text = bench.table(rows)
  if _STAGES.value:
    stage_rows = ["| nodes | batch | key pass (s) | kernels + rows (s) | schedule pass (s) | peak memory (s) | "
                  "whole jit (s) |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in (1000, 10000):
      p = bench.stage_profile(bench.random_graph(n), cluster, repeats=_REPEATS.value)
      stage_rows.append(f"| {n} | 256 | {p['key_pass']:.3g} | {p['kernels_rows']:.3g} | {p['schedule_pass']:.3g} | "
                        f"{p['peak_memory']:.3g} | {p['total']:.3g} |")
    text += "\n\nPer-stage seconds per batch (scan engine, one device, each stage jitted alone):\n\n"
    text += "\n".join(stage_rows)
  print(text)
  if _OUTPUT.value:
    with open(_OUTPUT.value, "a") as f:
      f.write(f"\n### Simulator throughput, engines side by side ({'quick' if _QUICK.value else 'full'}), "
              f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPU cores (shared), jax {jax.__version__}, {cluster.name}, "
              f"placement + priority + fusion, step time + peak memory, median of {_REPEATS.value}\n\n"
              f"Command: `python -m experiments.bench_simulator{' --quick' if _QUICK.value else ''}"
              f"{' --stages' if _STAGES.value else ''}`\n\n{text}\n")
  if _QUICK.value:
    print(bench.quick_summary(rows))


if __name__ == "__main__":
  app.run(main)
