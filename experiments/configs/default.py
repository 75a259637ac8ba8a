"""Default GO-one training config: ``--config=experiments/configs/default.py``."""

from go_jax.rl import config as rl_config


def get_config():
  return rl_config.get_default_config()
