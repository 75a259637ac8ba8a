r"""GO transfer results: zero-shot and fine-tuned GO on held-out families vs GO-one and the baselines.

  python -m experiments.transfer_results --workdir=/tmp/go_transfer --families=rnnlm,gnmt,txl,bert,wavenet \
      --config=experiments/configs/pretrain.py --config.time_limit_s=1500 \
      --finetune_steps=50,200,1000 --cluster=v100x4 --out=docs/transfer.md

For each family it pretrains without it (resuming ``<workdir>/<family>/pretrain``),
then measures what :mod:`experiments.transfer_lib` describes; results go to
``<workdir>/transfer.json`` after every family and the table to ``--out``
(with the curves in ``<out>_curves.png``).

With ``--rows_dir`` every finished family is kept as JSON and reused by a later
run with the same settings, so the families can run in pieces (one process per
core, say) and a final ``--stored_only`` run renders the whole page:

  python -m experiments.transfer_results --workdir=/tmp/go_transfer --families=wavenet \
      --rows_dir=docs/transfer_rows ...            # one process per family or core
  python -m experiments.transfer_results --workdir=/tmp/go_transfer --families=rnnlm,gnmt,txl,bert,wavenet \
      --rows_dir=docs/transfer_rows --stored_only ...   # the page, from the stored records

One family can also be split between two cores: GO-one and the baselines never
read the pretrained policy, so ``--phases=finetune`` in one process and
``--phases=go_one,baselines`` in another (same ``--workdir``) each keep their
part in ``<workdir>/<family>/<phase>.json``; a last run with every phase (the
default) reuses both and stores the family's record in seconds.
"""

from __future__ import annotations

import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli
from experiments import rows as rows_lib
from experiments import transfer_lib
from go_jax import errors

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/pretrain.py", "Pretraining config.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Folder of the pretraining runs and transfer.json.", required=True)
_FAMILIES = flags.DEFINE_list("families", list(transfer_lib.TARGETS), "Families to hold out, one at a time.")
_CLUSTER = flags.DEFINE_string("cluster", "v100x4", "Cluster preset or JSON of the target problems.")
_STEPS = flags.DEFINE_list("finetune_steps", ["50", "200", "1000"], "Fine-tuning iterations to report.")
_BASELINES = flags.DEFINE_list("baselines", None, "Baselines to run (default: every method but GO-one).")
_OUT = flags.DEFINE_string("out", "docs/transfer.md", "Markdown table to write ('' = none).")
_ROWS_DIR = flags.DEFINE_string("rows_dir", None, "Folder keeping every finished family's record as JSON; a rerun "
                                "with the same folder and settings reuses them (run the families in pieces).")
_PHASES = flags.DEFINE_list("phases", list(transfer_lib.PHASES), "Parts of each family's record to compute in "
                            "this process (finetune: pretraining, zero-shot, fine-tuning; go_one; baselines); each is "
                            "kept in <workdir>/<family>/<phase>.json, so two processes on two cores can split a family "
                            "and a last run with every phase assembles the record.")
_STORED_ONLY = flags.DEFINE_boolean("stored_only", False, "Compute nothing: render the page from --rows_dir and "
                                    "mark the families not stored yet 'not run'.")


def main(argv):
  del argv
  unknown = [f for f in _FAMILIES.value if f not in transfer_lib.TARGETS]
  if unknown:
    raise errors.InputError(f"--families: no target graph for {', '.join(unknown)} "
                                f"(known: {', '.join(transfer_lib.TARGETS)})")
  try:
    steps = [int(s) for s in _STEPS.value]
  except ValueError:
    raise errors.InputError(f"--finetune_steps={','.join(_STEPS.value)}: expected integers") from None
  if not steps or min(steps) < 1:
    raise errors.InputError("--finetune_steps: need positive integers")
  if _STORED_ONLY.value and not _ROWS_DIR.value:
    raise errors.InputError("--stored_only needs --rows_dir (the folder of the stored records)")
  store = rows_lib.RowStore(_ROWS_DIR.value, transfer_lib.log)
  results = transfer_lib.run(_FAMILIES.value, _CONFIG.value, _WORKDIR.value, _CLUSTER.value, steps,
                             _BASELINES.value, _OUT.value or None, sys.argv, store=store,
                             stored_only=_STORED_ONLY.value, phases=_PHASES.value)
  # The curves (one point per iteration) are in the rows folder and <workdir>/transfer.json.
  cli.print_json([{k: v for k, v in r.items() if not k.endswith("_curve")} for r in results])


if __name__ == "__main__":
  cli.run(main)
