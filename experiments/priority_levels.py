r"""Scheduling heuristics quantised to the policy's priority levels: what each level count keeps.

Usage:
  python -m experiments.priority_levels [--graphs=wavenet_2x18:4,txl_2:4,inception_v3:4]
      [--levels=4,8,16,32] [--out=docs/priority_levels.md]

Prints (or writes to ``--out``) a page with, per graph, the step time of level
order, of critical-path and FIFO priorities at full resolution, and of the same
priorities quantised by rank to each level count (``experiments/priority_levels_lib.py``).
"""

from __future__ import annotations

import sys

from absl import flags

from experiments import cli
from experiments import priority_levels_lib
from experiments import results_lib
from go_jax import errors

_GRAPHS = flags.DEFINE_string("graphs", priority_levels_lib.DEFAULT_GRAPHS, "NAME[:DEVICES],... workloads.")
_LEVELS = flags.DEFINE_list("levels", [str(n) for n in priority_levels_lib.DEFAULT_LEVELS], "Level counts.")
_OUT = flags.DEFINE_string("out", None, "Write the markdown page here (default: print it).")


def main(argv):
  del argv
  try:
    levels = [int(n) for n in _LEVELS.value]
  except ValueError:
    raise errors.InputError(f"--levels: {','.join(_LEVELS.value)} is not a list of integers") from None
  if any(n < 1 for n in levels):
    raise errors.InputError(f"--levels: every level count must be >= 1, got {','.join(_LEVELS.value)}")
  graphs = results_lib.parse_graphs(_GRAPHS.value, "joint")
  rows = priority_levels_lib.run(graphs, levels, progress=priority_levels_lib.log)
  command = "python -m experiments.priority_levels " + " ".join(sys.argv[1:])
  page = priority_levels_lib.markdown(rows, levels, priority_levels_lib.HEURISTICS, command.strip())
  if _OUT.value:
    cli.write_atomically(page, _OUT.value)
    priority_levels_lib.log(f"wrote {_OUT.value}")
  else:
    print(page, end="")


if __name__ == "__main__":
  cli.run(main)
