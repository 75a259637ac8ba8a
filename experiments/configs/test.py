"""A tiny CPU config for tests: a toy graph, a tiny network, about a minute end-to-end."""

from go_jax.models import config as model_config
from go_jax.rl import config as rl_config


def get_config():
  config = rl_config.get_default_config()
  config.graph = "toy_chains_4x6"
  config.cluster = "v100x4"
  config.tasks = "placement,scheduling,fusion"  # the end-to-end test covers the joint path
  config.model = model_config.get_test_config()
  config.model.remat = False
  config.model.node_logit_scale = 16.0  # GO-one's default free per-node logits
  config.ppo.num_samples = 8
  config.ppo.num_epochs = 2
  config.ppo.num_minibatches = 2
  config.ppo.learning_rate = 3e-3
  config.ppo.entropy_decay_iterations = 30
  config.num_iterations = 30
  config.budget = 100_000
  config.patience = 0
  config.checkpoint_every = 10
  config.baselines = "single,contiguous,heft"
  config.baseline_budget = 100
  config.imitation.steps = 0  # tests/rl/test_imitation.py covers the warm start
  config.pathwise.steps = 0  # tests/rl/test_pathwise.py covers the relaxed descent
  return config
