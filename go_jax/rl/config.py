"""Default configuration of GO training (``experiments/configs/*.py`` start from it).

Fields (override on the command line, e.g. ``--config.ppo.clip_epsilon=0.1``):
  seed: PRNG seed of parameters and sampling (same seed, same run).
  graph: a workload name, a graph file or a :data:`go_jax.rl.toy_graphs.TOY_GRAPHS` name.
  cluster: a cluster preset or JSON file ("" = the graph's own cluster, else v100x4).
  devices: use the first ``devices`` devices of the cluster (0 = all).
  tasks: comma-separated subset of placement,scheduling,fusion.
  model: :func:`go_jax.models.config.get_model_config` (its ``tasks`` is replaced by ``tasks``).
  ppo: :class:`go_jax.rl.iteration.IterationConfig` and :class:`go_jax.rl.losses.LossConfig` fields.
  reward: :class:`go_jax.rl.rewards.RewardConfig` fields.
  num_iterations: at most this many PPO iterations.
  budget: at most this many simulator evaluations (sampled decision vectors).
  patience: stop after this many iterations without a better decision vector (0 = never).
  checkpoint_every: iterations between checkpoints (and at the end).
  max_checkpoints: checkpoints kept.
  baselines: comma-separated methods of :data:`go_jax.baselines.METHODS` in the final table.
  baseline_budget: simulator evaluations for search baselines in the final table.
"""

from __future__ import annotations

import ml_collections

from go_jax.models import config as model_config


def get_default_config() -> ml_collections.ConfigDict:
  """The default GO-one configuration (paper defaults where ``paper.md`` gives them)."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.graph = "gnmt_2"
  config.cluster = "v100x4"
  config.devices = 0
  config.tasks = "placement,scheduling,fusion"
  config.model = model_config.get_model_config()

  config.ppo = ml_collections.ConfigDict()
  config.ppo.num_samples = 16
  config.ppo.num_epochs = 4
  config.ppo.num_minibatches = 4
  config.ppo.baseline = "mean"
  config.ppo.learning_rate = 1e-3
  config.ppo.max_grad_norm = 1.0
  config.ppo.entropy_start = 1e-2
  config.ppo.entropy_end = 1e-3
  config.ppo.entropy_decay_iterations = 200
  config.ppo.clip_epsilon = 0.2
  config.ppo.value_coef = 0.5
  config.ppo.normalize_advantages = True

  config.reward = ml_collections.ConfigDict()
  config.reward.oom_factor = 10.0
  config.reward.overflow_weight = 1.0

  config.num_iterations = 1000
  config.budget = 16000
  config.patience = 200
  config.checkpoint_every = 25
  config.max_checkpoints = 3
  config.baselines = "single,expert,heft,metis"
  config.baseline_budget = 1000
  return config
