"""Fusion baselines: fusion requests for fixed placement and priorities.

* ``no_fusion``: every op is its own kernel.
* ``xla_fusion``: XLA-like producer-consumer fusion: request fusion for every
  single-use elementwise, transcendental, convert, broadcast, reshape,
  transpose, slice or reduce producer. The simulator's legality rule (single
  consumer on the same device, at most one contraction per kernel) decides
  what actually fuses, exactly as for any other decision vector.
* ``greedy_fusion``: start from ``xla_fusion`` and, in rounds, flip the fusion
  request of candidate nodes (in descending order of the bytes fusing them
  would save), keeping a flip when the exact simulated step time improves;
  stops when the evaluation budget is spent or a round improves nothing.
"""

from __future__ import annotations

import numpy as np

from go_jax.graph import graph as graph_lib
from go_jax.graph import ops
import simulator
from simulator import cluster as cluster_lib
from simulator import types as sim_types

XLA_FUSIBLE_TYPES = frozenset({"elementwise", "transcendental", "convert", "broadcast", "reshape",
                               "transpose", "slice", "reduce"})
_FUSIBLE_IDS = np.asarray([ops.OP_TYPE_ID[t] for t in sorted(XLA_FUSIBLE_TYPES)])


def no_fusion(graph: graph_lib.ComputationGraph) -> np.ndarray:
  return np.zeros(graph.num_nodes, bool)


def xla_fusion(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N,) bool fusion requests of XLA's default producer-consumer rule (see module docstring)."""
  return np.isin(graph.op_type, _FUSIBLE_IDS) & (graph.out_degree == 1)


def greedy_fusion(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                  placement: np.ndarray, priority: np.ndarray, budget: int) -> tuple[np.ndarray, int]:
  """Greedy fusion by simulated gain. Returns (fusion (N,) bool, evaluations used)."""
  fusion = xla_fusion(graph)
  consumer, edge_bytes = sim_types.single_consumer(graph)
  same_device = (consumer >= 0) & (placement[np.maximum(consumer, 0)] == placement)
  candidates = np.flatnonzero(same_device)
  candidates = candidates[np.argsort(-edge_bytes[candidates], kind="stable")]

  def step_time(requests):
    result, _ = simulator.simulate_reference(graph, cluster, simulator.Decisions(placement, priority, requests))
    return float(result.step_time) + (1e3 if np.any(result.oom) else 0.0)

  best = step_time(fusion)
  used = 1
  improved = True
  while improved and used < budget:
    improved = False
    for node in candidates:
      if used >= budget:
        break
      trial = fusion.copy()
      trial[node] = not trial[node]
      value = step_time(trial)
      used += 1
      if value < best:
        best, fusion, improved = value, trial, True
  return fusion, used
