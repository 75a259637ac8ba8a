r"""Optimizes any graph with a pretrained GO policy and compares it with the heuristics.

  python -m experiments.optimize --graph=PATH_OR_WORKLOAD --cluster=v100x4 \
      [--checkpoint=DIR] [--finetune_steps=N] [--out=decisions.json]

Without ``--checkpoint`` it uses the policy shipped in go_jax/pretrained/.
The decisions JSON (``placement``/``priority``/``fusion`` per node, plus
``node_names``) is what ``python -m experiments.simulate --decisions=`` reads.
The table goes to stdout, progress to stderr; bad input is one line on stderr
and exit status 2. The logic is in :mod:`experiments.optimize_lib`.
"""

from __future__ import annotations

from absl import flags

from experiments import cli
from experiments import evaluate_lib
from experiments import optimize_lib

_GRAPH = flags.DEFINE_string(
    "graph", None, "Graph file (HLO text, JSON, PipeDream, .gograph.npz), workload name or variant (rnnlm_2:unroll=6).",
    required=True)
_CLUSTER = flags.DEFINE_string("cluster", None, "Cluster preset or JSON file, optionally with @<x>GiB of memory "
                               "per device (default: the file's own, else v100x4).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "GO run directory (default: the shipped go_jax/pretrained).")
_FINETUNE_STEPS = flags.DEFINE_integer("finetune_steps", 0, "PPO iterations of fine-tuning on the graph.")
_OUT = flags.DEFINE_string("out", None, "Write the decisions JSON here (atomically).")
_METHODS = flags.DEFINE_list("methods", None, "Baselines to compare with (default: the heuristics).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of fine-tuning and stochastic baselines.")
_JSON = flags.DEFINE_bool("json", False, "Print the report as JSON instead of a table.")


def main(argv):
  del argv
  report = optimize_lib.optimize(_GRAPH.value, _CLUSTER.value, _CHECKPOINT.value, _FINETUNE_STEPS.value,
                                 _OUT.value, _METHODS.value, _SEED.value)
  if _JSON.value:
    cli.print_json(report)
    return
  print(evaluate_lib.format_records(report["records"]))
  oom = " (OUT OF MEMORY)" if report["go_oom"] else ""
  print(f"zero-shot forward pass: {report['zero_shot_seconds']:.2f} s; GO {1e3 * report['go_step_time']:.4g} ms{oom}"
        + (f" vs best feasible baseline {report['best_baseline']} {1e3 * report['best_baseline_step_time']:.4g} ms"
           if report["best_baseline"] else ""))


if __name__ == "__main__":
  cli.run(main)
