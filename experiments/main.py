r"""The main job (``./run.sh``): train GO on a built-in workload, then compare it with the baselines.

With no arguments it loads the default workload (``wavenet_2x18``, a 2-stack
18-layer WaveNet training step, ~3k ops, traced from its Flax model on first
use, then cached), trains GO-one (placement) on a 4 x V100 cluster for
``--iterations`` PPO iterations (a few minutes on a 2-core CPU; one progress
line per iteration with the ETA on stderr), then runs every constructive
heuristic through the exact simulator and prints one table with GO-one
(``go_one``: its best sampled placement; ``go_one_greedy``: the trained
policy's argmax) next to them. Flags override the defaults, e.g.
``./run.sh --graph=txl_2 --iterations=200``, ``./run.sh --methods=all
--budget=500`` to add the search methods and HDP, or ``./run.sh --nogo`` for
the baselines only.
"""

from __future__ import annotations

import dataclasses
import sys

from absl import flags

from experiments import cli
from experiments import evaluate_lib
from go_jax import baselines
from go_jax import evaluation
from go_jax.rl import config as rl_config
from go_jax.rl import train

DEFAULT_GRAPH = "wavenet_2x18"
DEFAULT_CLUSTER = "v100x4"

_GRAPH = flags.DEFINE_string("graph", DEFAULT_GRAPH, "Graph file, workload name or variant (rnnlm_2:unroll=6).")
_CLUSTER = flags.DEFINE_string("cluster", DEFAULT_CLUSTER, "Cluster preset name or JSON file.")
_METHODS = flags.DEFINE_list("methods", ["heuristics"], "Baselines to compare, 'heuristics', 'all' or names.")
_BUDGET = flags.DEFINE_integer("budget", 1000, "Simulator evaluations per search method.")
_GO = flags.DEFINE_boolean("go", True, "Train GO-one first (--nogo: the baselines only).")
_ITERATIONS = flags.DEFINE_integer("iterations", 40, "PPO iterations of GO-one.")
_TASKS = flags.DEFINE_string("tasks", "placement", "GO's tasks: a comma-separated subset of "
                             "placement,scheduling,fusion.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of GO-one and of stochastic baselines.")


def go_config(graph: str, cluster: str, iterations: int, tasks: str, seed: int):
  """The GO-one config of the main job: the default config on ``graph``/``cluster``."""
  config = rl_config.get_default_config()
  config.graph, config.cluster, config.tasks, config.seed = graph, cluster, tasks, seed
  config.num_iterations = iterations
  # Iterations bound the run; the budget leaves room for the imitation warm start's
  # scoring of its teachers and of the clone (a few evaluations).
  config.budget = iterations * (config.ppo.num_samples + config.pathwise.steps + 1) + 100
  config.patience = 0
  return config


def main(argv):
  del argv
  if _ITERATIONS.value < 1:
    cli.fail(f"--iterations must be >= 1, got {_ITERATIONS.value}")
  config = go_config(_GRAPH.value, _CLUSTER.value, _ITERATIONS.value, _TASKS.value, _SEED.value)
  train.tasks_of(config)  # validates --tasks before anything slow
  names = [n for n in evaluate_lib.resolve_methods(_METHODS.value) if not n.startswith("go_")]
  evaluate_lib.log(f"loading {_GRAPH.value}")
  problem = dataclasses.replace(train.load_problem(config), budget=_BUDGET.value)
  names = [n for n in names if n != "expert" or problem.expert is not None]
  if not _GO.value:
    records = evaluation.evaluate(problem, baselines.METHODS, names, evaluate_lib.log)
    for record in records:
      record["cluster"] = problem.cluster.name
    print(evaluate_lib.format_records(records))
    return
  evaluate_lib.log(f"training GO-one ({config.tasks}) on {problem.graph.name} ({problem.graph.num_nodes} ops) / "
                   f"{problem.cluster.name} for {_ITERATIONS.value} iterations (the first one compiles)")

  def progress(step, metrics):
    print(train.format_progress(step, metrics, _ITERATIONS.value), file=sys.stderr, flush=True)

  result = train.train(config, problem, progress_fn=progress)
  records = train.results_table(problem, result, names, progress=evaluate_lib.log)
  print(evaluate_lib.format_records(records))


if __name__ == "__main__":
  cli.run(main)
