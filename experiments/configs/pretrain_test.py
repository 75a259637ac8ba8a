"""A tiny pretraining config for tests: test network, ~60-110-node synthetic graphs, one bucket, seconds per run."""

import ml_collections

from experiments.configs import pretrain
from go_jax.models import config as model_config


def get_config() -> ml_collections.ConfigDict:
  config = pretrain.get_config()
  config.model = model_config.get_test_config()
  config.model.remat = False
  config.ppo.num_samples = 4
  config.ppo.num_epochs = 1
  config.ppo.num_minibatches = 1
  config.zoo_variants = ""
  config.shared_data = ""
  config.synthetic_fraction = 1.0
  config.min_nodes = 50
  config.max_nodes = 90
  config.buckets = "128"
  config.nodes_per_batch = 256  # G = 2 graphs per batch
  config.clusters = "v100x8,a100x8"  # one shape: one compilation
  config.device_counts = "2,4,8"
  config.num_iterations = 3
  config.checkpoint_every = 2
  return config
