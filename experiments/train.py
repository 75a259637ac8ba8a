r"""Trains GO-one on one graph and compares it with the baselines.

  python -m experiments.train --config=experiments/configs/default.py --workdir=/tmp/go_run \
      [--config.graph=txl_2 --config.cluster=v100x4 --config.tasks=placement,scheduling]

The logic lives in :mod:`go_jax.rl.train`; this module parses flags, prints a
progress line with an ETA on stderr and the results table on stdout.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments import evaluate_lib
from go_jax.rl import train

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/default.py", "Training config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed if it has checkpoints).", required=True)


def print_progress(step: int, metrics: dict[str, float]) -> None:
  """One line per iteration on stderr."""
  print(train.format_progress(step, metrics, train.planned_iterations(_CONFIG.value)), file=sys.stderr,
        flush=True)


def main(argv):
  del argv
  summary = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value, print_progress)
  table = evaluate_lib.format_records(summary["records"])
  with open(os.path.join(_WORKDIR.value, "results.txt"), "w") as f:
    f.write(table)
  print(table)


if __name__ == "__main__":
  app.run(main)
