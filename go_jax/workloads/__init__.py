"""The workload zoo: Flax models traced into training-step graphs, and expert placements.

Public API::

  from go_jax import workloads
  workloads.list_workloads()                        # ['amoebanet', 'bert_base', ...]
  graph = workloads.get_graph("gnmt_4", unroll=16)  # traced once, then cached
  name, knobs = workloads.parse_variant("gnmt_4:unroll=16")  # the same variant as a string
  placement = workloads.expert_placement("gnmt_4", graph, num_devices=4)
"""

from go_jax.workloads.expert import EXPERT_PLACERS
from go_jax.workloads.expert import expert_placement
from go_jax.workloads.registry import WORKLOADS
from go_jax.workloads.registry import UnknownWorkloadError
from go_jax.workloads.registry import WorkloadRecord
from go_jax.workloads.registry import WorkloadSpec
from go_jax.workloads.registry import get_graph
from go_jax.workloads.registry import get_spec
from go_jax.workloads.registry import list_workloads
from go_jax.workloads.registry import load_workload
from go_jax.workloads.registry import parse_variant
from go_jax.workloads.registry import trace_info

__all__ = [
    "EXPERT_PLACERS", "WORKLOADS", "UnknownWorkloadError", "WorkloadRecord", "WorkloadSpec",
    "expert_placement", "get_graph", "get_spec", "list_workloads", "load_workload", "parse_variant",
    "trace_info",
]
