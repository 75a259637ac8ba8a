r"""GO-batch pretraining: one policy over many graphs and clusters (see go_jax/rl/pretrain.py).

  python -m experiments.pretrain --config=experiments/configs/pretrain.py --workdir=/tmp/go_pretrain \
      [--config.holdout=gnmt] [--config.time_limit_s=1500]

The workdir holds config.json, checkpoints/<step>, metrics.jsonl and tb/ (the
GO-one layout, so ``experiments.optimize --checkpoint=DIR`` loads it); a workdir
with checkpoints resumes. Progress (one line per iteration, with an ETA) goes
to stderr, the summary JSON to stdout.
"""

from __future__ import annotations

import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli
from go_jax.rl import pretrain

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/pretrain.py", "Pretraining config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed if it has checkpoints).", required=True)


def print_progress(step: int, metrics: dict[str, float]) -> None:
  """One line per iteration on stderr."""
  print(pretrain.progress_line(step, metrics), file=sys.stderr, flush=True)


def main(argv):
  del argv
  summary = pretrain.pretrain_and_save(_CONFIG.value, _WORKDIR.value, print_progress)
  cli.print_json(summary)


if __name__ == "__main__":
  cli.run(main)
