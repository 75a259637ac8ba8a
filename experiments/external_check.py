r"""External check: placement methods vs the published human-expert splits, on max-load.

Usage:
  python -m experiments.external_check [--data=../shared/data] [--methods=...] [--budget=N] [--markdown]

For every dnn-partitioning layer graph that ships a human-expert split, runs
the placement methods on the file's own cluster (its accelerators plus the
CPU) and prints each method's max-load (the published objective, in the file's
milliseconds) and simulated step time next to the expert's. ``--markdown``
prints the page ``docs/external_check.md``.
"""

from __future__ import annotations

from absl import flags

from experiments import cli
from experiments import external_check_lib

_DATA = flags.DEFINE_string("data", external_check_lib.DEFAULT_DATA, "The shared data folder.")
_METHODS = flags.DEFINE_list("methods", list(external_check_lib.DEFAULT_METHODS), "Placement methods.")
_BUDGET = flags.DEFINE_integer("budget", 1000, "Simulator evaluations per search method.")
_MARKDOWN = flags.DEFINE_bool("markdown", False, "Print the markdown page docs/external_check.md.")


def main(argv):
  del argv
  rows = external_check_lib.run(_DATA.value, _METHODS.value, _BUDGET.value, progress=external_check_lib.log)
  if _MARKDOWN.value:
    print(external_check_lib.markdown(rows, _METHODS.value, _BUDGET.value), end="")
  else:
    print(cli.format_table(rows))


if __name__ == "__main__":
  cli.run(main)
