"""GO-one as a method of the registry (``Problem -> MethodOutput``).

The tech lead merges :data:`METHODS` into :data:`go_jax.baselines.METHODS`.
``go_one`` trains a fresh policy on ``problem.graph``/``problem.cluster`` with
the default config, placement only (seed ``problem.seed``) and spends at most
``problem.budget`` simulator evaluations: every sampled decision vector counts
one, and one more scores the policy's greedy decisions at the end (exact
simulator). It returns the better of the best sampled vector and the greedy
one.
"""

from __future__ import annotations

from typing import Callable

import ml_collections

from go_jax import evaluation
from go_jax.rl import config as rl_config
from go_jax.rl import train


def default_config() -> ml_collections.ConfigDict:
  """The GO-one config ``go_one`` trains with by default: the default config, placement only."""
  config = rl_config.get_default_config()
  config.tasks = "placement"  # compared with placement baselines
  return config


def go_one(problem: evaluation.Problem, config: ml_collections.ConfigDict | None = None
           ) -> evaluation.MethodOutput:
  """Trains GO-one within ``problem.budget`` simulator evaluations; returns its best decisions."""
  if config is None:
    config = default_config()
  config = ml_collections.ConfigDict(config.to_dict())
  config.seed = problem.seed
  if problem.budget < config.ppo.num_samples + 1:
    raise evaluation.MethodUnavailable(
        f"go_one needs a budget of at least {config.ppo.num_samples + 1} evaluations, got {problem.budget}")
  result = train.train(config, problem, budget=problem.budget - 1)  # -1: the greedy decisions' score
  use_greedy = (result.greedy_oom, result.greedy_step_time) < (result.best_oom, result.best_step_time)
  decisions = result.greedy if use_greedy else result.best
  return evaluation.MethodOutput(
      decisions, evaluations=result.evaluations + 1,
      notes=f"{train.describe(result)}; {'greedy' if use_greedy else 'best sampled'} decisions")


METHODS: dict[str, Callable[[evaluation.Problem], evaluation.MethodOutput]] = {"go_one": go_one}
