"""Baseline optimizers, registered by name in :data:`METHODS`.

Every method maps a :class:`go_jax.evaluation.Problem` to a
:class:`go_jax.evaluation.MethodOutput`. Unless a method decides them, ops run
in level order (equal priorities) and nothing is fused.
"""

from go_jax.baselines import registry

METHODS = registry.METHODS
#: Methods that spend no simulator evaluations (constructive heuristics).
HEURISTICS = registry.HEURISTICS
