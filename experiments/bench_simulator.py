r"""Benchmarks the reference and vectorized simulators; appends the table to BENCHMARKS.md.

  python -m experiments.bench_simulator            # ~1k/10k/50k random + real graphs, batch 1/64/256
  python -m experiments.bench_simulator --quick    # ~1k and ~10k random graphs at batch 256
"""

import datetime
import os

from absl import app
from absl import flags
import jax

from simulator import bench
from simulator import cluster as cluster_lib

_QUICK = flags.DEFINE_bool("quick", False, "Only ~1k and ~10k random graphs at batch 256; last line JSON.")
_CLUSTER = flags.DEFINE_string("cluster", "v100x4", "Cluster preset or JSON.")
_DATA = flags.DEFINE_string("data", "../shared/data/dnn-partitioning", "dnn-partitioning folder (real graphs).")
_OUTPUT = flags.DEFINE_string("output", "BENCHMARKS.md", "Markdown file to append to ('' = none).")


def main(argv):
  del argv
  cluster = cluster_lib.get_cluster(_CLUSTER.value, 4)
  sizes, batches = ((1000, 10000), (256,)) if _QUICK.value else ((1000, 10000, 50000), (1, 64, 256))
  rows = []
  for n in sizes:
    rows += bench.measure(bench.random_graph(n), cluster, batches, min_seconds=0.5 if _QUICK.value else 2.0)
    print(bench.table(rows[-len(batches):]), flush=True)
  if not _QUICK.value:
    for graph in bench.real_graphs(_DATA.value).values():
      rows += bench.measure(graph, cluster, batches)
  text = bench.table(rows)
  print(text)
  if _OUTPUT.value:
    with open(_OUTPUT.value, "a") as f:
      f.write(f"\n### Simulator throughput ({'quick' if _QUICK.value else 'full'}), "
              f"{datetime.date.today()}, {os.cpu_count()} CPU cores, jax {jax.__version__}, "
              f"{cluster.name}, placement + priority + fusion, step time + peak memory\n\n{text}\n")
  if _QUICK.value:
    print(bench.quick_summary(rows))


if __name__ == "__main__":
  app.run(main)
