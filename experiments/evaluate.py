r"""Compare optimization methods side by side on one or more graphs.

Usage:
  python -m experiments.evaluate --graph=NAME_OR_PATH[,...] --cluster=PRESET_OR_JSON \
      --methods=all|m1,m2 [--devices=D] [--budget=N] [--seed=S] [--checkpoint=DIR] \
      [--json_out=FILE] [--markdown_out=FILE] [--rows_dir=DIR]

Prints one table per graph: step time, speedup over single device and over the
human expert, peak memory, OOM, step time / lower bound, simulator evaluations
used and wall-clock search time. ``--json_out`` writes one record per
(graph, method); ``--markdown_out`` writes the tables as a generated markdown
page (command line, machine, date, jax version), e.g. ``docs/baselines.md``.
With ``--rows_dir`` every finished (graph, method) record is kept there as JSON
and reused by a later run with the same settings, so a run of hours can be
interrupted and resumed.
"""

from __future__ import annotations

import sys

from absl import flags

from experiments import cli
from experiments import evaluate_lib
from experiments import rows as rows_lib

_GRAPH = flags.DEFINE_list("graph", None, "Comma-separated graph files or workload names.")
_CLUSTER = flags.DEFINE_string("cluster", None, "Cluster preset name or JSON file (default: a dnn-partitioning "
                               "graph's own cluster, else v100x4).")
_DEVICES = flags.DEFINE_integer("devices", None, "Use only the first D devices of the cluster.")
_METHODS = flags.DEFINE_list("methods", ["all"], "Methods to run, 'heuristics' or 'all'.")
_BUDGET = flags.DEFINE_integer("budget", 1000, "Simulator evaluations per search method.")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Directory of a trained GO policy for the methods that "
                                  "apply one (default: the policy shipped in the repository).")
_JSON_OUT = flags.DEFINE_string("json_out", None, "Write the records as a JSON list to this file.")
_MARKDOWN_OUT = flags.DEFINE_string("markdown_out", None, "Write the tables as a generated markdown page to "
                                    "this file.")
_ROWS_DIR = flags.DEFINE_string("rows_dir", None, "Keep each finished (graph, method) record here and reuse it "
                                "when rerun with the same settings (resume an interrupted run).")


def main(argv):
  del argv
  if not _GRAPH.value:
    cli.fail("--graph is required (comma-separated graph files or workload names)")
  store = rows_lib.RowStore(_ROWS_DIR.value, evaluate_lib.log)
  records = evaluate_lib.run(_GRAPH.value, _CLUSTER.value, _METHODS.value, devices=_DEVICES.value,
                             budget=_BUDGET.value, seed=_SEED.value, progress=evaluate_lib.log,
                             checkpoint=_CHECKPOINT.value, store=store)
  print(evaluate_lib.format_records(records))
  if _JSON_OUT.value:
    evaluate_lib.write_json(records, _JSON_OUT.value)
  if _MARKDOWN_OUT.value:
    evaluate_lib.write_markdown(records, _MARKDOWN_OUT.value, sys.argv, reused=store.reused)


if __name__ == "__main__":
  cli.run(main)
