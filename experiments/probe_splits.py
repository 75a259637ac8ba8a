r"""Does a pretrained policy split the graphs that do not fit on one device, as its teachers do?

  python -m experiments.probe_splits --checkpoint=RUN [--first_step=100000 --num_steps=60] \
      [--memory_pressure=1.0]

Draws pretraining batches of iterations ``first_step ..`` with the run's own config
(training set, clusters, memory pressure; ``--memory_pressure`` overrides the share of
squeezed batches), keeps the squeezed ones and prints, as JSON, how many of their graphs
each best heuristic (the imitation teacher) and the policy's greedy decisions place on more
than one device, how many run out of memory, and the share of nodes where the two agree
(``go_jax.rl.pretrain.split_probe``). Steps past the run's last iteration are batches it
never trained on.
"""

from __future__ import annotations

from absl import flags
import ml_collections

from experiments import cli
from go_jax import errors
from go_jax.rl import pretrain
from go_jax.rl import pretrained

_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Pretraining run directory.", required=True)
_FIRST = flags.DEFINE_integer("first_step", 100_000, "First iteration whose batch is drawn.")
_NUM = flags.DEFINE_integer("num_steps", 60, "Iterations whose batches are drawn (only the squeezed ones count).")
_PRESSURE = flags.DEFINE_float("memory_pressure", None, "Share of squeezed batches (default: the run's).")
_SHARED = flags.DEFINE_string("shared_data", None, "Third-party graphs folder (default: the run's).")


def main(argv):
  del argv
  policy = pretrained.load_policy(_CHECKPOINT.value)
  config = ml_collections.ConfigDict(policy.config.to_dict())
  if _PRESSURE.value is not None:
    config.memory_pressure = _PRESSURE.value
  if _SHARED.value is not None:
    config.shared_data = _SHARED.value
  if float(config.get("memory_pressure", 0.0)) <= 0:
    raise errors.InputError(f"{_CHECKPOINT.value}: the run has no memory pressure; pass --memory_pressure")
  if _NUM.value < 1:
    raise errors.InputError(f"--num_steps={_NUM.value}: expected >= 1")
  training_set = pretrain.load_training_set(config)
  result = pretrain.split_probe(policy.network, policy.params, config, training_set,
                                range(_FIRST.value, _FIRST.value + _NUM.value))
  cli.print_json({"checkpoint": _CHECKPOINT.value, "step": policy.step, **result})


if __name__ == "__main__":
  cli.run(main)
