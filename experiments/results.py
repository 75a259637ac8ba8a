r"""Generate docs/results.md: GO-one vs the baselines on the paper's workloads.

  python -m experiments.results --suite=placement [--budget=4800] [--graphs=txl_2:4,wavenet_2x18] \
      --out=docs/results.md
  python -m experiments.results --suite=joint --budget=1600 --out=docs/results_joint.md

``--graphs`` takes NAME or NAME:DEVICES items (default: the suite's list in
:mod:`experiments.results_lib`); ``--config.*`` overrides the GO-one config
(e.g. ``--config.ppo.num_samples=32``). Progress goes to stderr; the page is
written atomically at the end (and printed when ``--out`` is empty).

``--rows_dir=DIR`` keeps every finished row in DIR and reuses rows computed
earlier with the same settings, so the full suites can run in pieces (e.g.
``--graphs=rnnlm_2:2,rnnlm_4:4`` today, the rest tomorrow, then one run over
all graphs renders the page from DIR)::

  python -m experiments.results --suite=placement --rows_dir=runs/placement_rows --graphs=rnnlm_2:2
"""

from __future__ import annotations

import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli
from experiments import evaluate_lib
from experiments import results_lib
from experiments import rows as rows_lib
from go_jax.rl import config as rl_config

_SUITE = flags.DEFINE_enum("suite", "placement", ["placement", "joint"], "Which comparison to run.")
_GRAPHS = flags.DEFINE_list("graphs", [], "NAME or NAME:DEVICES items (default: the suite's workloads).")
_BUDGET = flags.DEFINE_integer("budget", 4800, "Simulator evaluations of GO-one (and HDP) per run.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of GO-one and of the stochastic baselines.")
_HDP = flags.DEFINE_boolean("hdp", True, "Run HDP in the placement suite (--nohdp: skip it and the "
                            "convergence table).")
_SEARCH = flags.DEFINE_boolean("search", True, "Run the search baselines (BRKGA, relaxed gradient) in the "
                               "placement suite with GO-one's budget (--nosearch: skip them).")
_STORED_ONLY = flags.DEFINE_boolean(
    "stored_only", False, "Compute nothing: render the page from --rows_dir and mark what is not stored "
    "yet 'not run' (placement: search baselines or whole pairs; joint: task variants).")
_OUT = flags.DEFINE_string("out", "docs/results.md", "Markdown file to write ('' = stdout only).")
_ROWS_DIR = flags.DEFINE_string("rows_dir", None, "Folder keeping every finished row as JSON; a rerun with the "
                                "same folder and settings reuses them (run the suites in pieces).")
_CONFIG = config_flags.DEFINE_config_dict("config", rl_config.get_default_config(),
                                          "GO-one config overrides (graph, cluster, tasks, budget are set per run).")


def main(argv):
  del argv
  store = rows_lib.RowStore(_ROWS_DIR.value, evaluate_lib.log)
  rows, seconds = results_lib.run(_SUITE.value, _GRAPHS.value, _BUDGET.value, _SEED.value, _HDP.value,
                                  _CONFIG.value, progress=evaluate_lib.log, store=store,
                                  with_search=_SEARCH.value, stored_only=_STORED_ONLY.value)
  command = "python -m experiments.results " + " ".join(sys.argv[1:])
  page = results_lib.render(_SUITE.value, rows, _BUDGET.value, command, seconds, store.reused)
  if _OUT.value:
    cli.write_atomically(page, _OUT.value)
    evaluate_lib.log(f"wrote {_OUT.value}")
  else:
    print(page)


if __name__ == "__main__":
  cli.run(main)
