"""GO-one on an accelerator: a larger network and batch (imports the default, overrides)."""

from experiments.configs import default
from go_jax.models import config as model_config


def get_config():
  config = default.get_config()
  config.tasks = "placement,scheduling,fusion"
  config.model = model_config.get_model_config()
  config.model.hidden_size = 256
  config.model.num_attention_layers = 4
  config.model.remat = True
  config.ppo.num_samples = 64
  config.ppo.num_minibatches = 4
  config.ppo.learning_rate = 3e-4
  # Free per-node logits at the same effective rate as the CPU default (16 x 3e-3).
  config.model.node_logit_scale = 0.048 / config.ppo.learning_rate
  config.num_iterations = 2000
  config.budget = 128_000
  config.patience = 300
  config.checkpoint_every = 50
  return config
