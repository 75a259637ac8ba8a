"""Default GO-one training config: ``--config=experiments/configs/default.py``.

GO-one on placement only (``go_jax/rl/config.py`` explains why); add tasks
with ``--config.tasks=placement,scheduling,fusion``.
"""

from go_jax.rl import config as rl_config


def get_config():
  config = rl_config.get_default_config()
  config.tasks = "placement"
  return config
