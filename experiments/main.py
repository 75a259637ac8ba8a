r"""The main job (``./run.sh``): optimize a built-in workload and compare against the baselines.

With no arguments it loads the built-in default workload (traced from its Flax
model on first use, then cached), runs every constructive heuristic (the
methods that spend no simulator evaluations) through the simulator on the
default cluster and prints the comparison table. Flags override the defaults,
e.g. ``./run.sh --graph=gnmt_4 --cluster=v100x8`` or ``./run.sh --graph=txl_2
--methods=all --budget=500`` to add the search methods and HDP.
"""

from __future__ import annotations

from absl import flags

from experiments import cli
from experiments import evaluate_lib

DEFAULT_GRAPH = "gnmt_2"
DEFAULT_CLUSTER = "v100x4"

_GRAPH = flags.DEFINE_string("graph", DEFAULT_GRAPH, "Graph file or workload name.")
_CLUSTER = flags.DEFINE_string("cluster", DEFAULT_CLUSTER, "Cluster preset name or JSON file.")
_METHODS = flags.DEFINE_list("methods", ["heuristics"], "Methods to compare, 'heuristics' or 'all'.")
_BUDGET = flags.DEFINE_integer("budget", 1000, "Simulator evaluations per search method.")


def main(argv):
  del argv
  records = evaluate_lib.run([_GRAPH.value], _CLUSTER.value, _METHODS.value, budget=_BUDGET.value,
                             progress=evaluate_lib.log)
  print(evaluate_lib.format_records(records))


if __name__ == "__main__":
  cli.run(main)
