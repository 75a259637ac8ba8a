"""GO-JAX simulator: exact reference and vectorized JAX simulators of placement, scheduling, fusion.

The semantics are in ``simulator/README.md``. Typical use::

  import simulator
  cluster = simulator.get_cluster("v100x4")
  result, trace = simulator.simulate_reference(graph, cluster, decisions)
  g, jcluster = simulator.prepare(graph, cluster)
  batch = simulator.simulate_batch(g, jcluster, padded_decisions)
"""

from simulator.cluster import Cluster, get_cluster, PRESETS, load_json, save_json, first_devices
from simulator.objectives import lower_bound, max_load
from simulator.reference import simulate_reference, priorities_from_order
from simulator.relaxed import RelaxedPlan, relaxed_plan, relaxed_schedule, relaxed_step_time
from simulator.types import Decisions, SimResult, SimGraph, default_decisions, pad_decisions, to_sim_graph
from simulator.vectorized import prepare, simulate, simulate_batch

__all__ = [
    "Cluster", "get_cluster", "PRESETS", "load_json", "save_json", "first_devices",
    "lower_bound", "max_load",
    "simulate_reference", "priorities_from_order",
    "RelaxedPlan", "relaxed_plan", "relaxed_schedule", "relaxed_step_time",
    "Decisions", "SimResult", "SimGraph", "default_decisions", "pad_decisions", "to_sim_graph",
    "prepare", "simulate", "simulate_batch",
]
