"""GO policy networks: GraphSAGE encoder, Transformer-XL policy, joint task heads.

Modules: :mod:`~go_jax.models.config` (defaults), :mod:`~go_jax.models.gnn`
(graph encoder), :mod:`~go_jax.models.attention` (segment-recurrent
attention), :mod:`~go_jax.models.policy` (the network and its pure functions),
:mod:`~go_jax.models.synthetic_graphs` (random graphs for tests/benchmarks),
:mod:`~go_jax.models.benchmark` (forward+backward measurements).
"""

from go_jax.models.config import get_model_config
from go_jax.models.policy import Decisions
from go_jax.models.policy import PolicyNetwork
from go_jax.models.policy import PolicyOutput
from go_jax.models.policy import make_batched
from go_jax.models.policy import make_policy

__all__ = ["Decisions", "PolicyNetwork", "PolicyOutput", "get_model_config", "make_batched", "make_policy"]
