"""Simple placement heuristics: the floor every optimizer must beat.

Each method maps ``(graph, num_devices, node_cost)`` to a placement, an (N,)
int32 array of device ids in ``0..num_devices-1``, and respects the graph's
colocation groups (every node of a group goes where the group's first node in
topological order goes). ``node_cost`` is an (N,) estimate of each node's run
time in seconds (e.g. the cluster's roofline time on one device); heuristics
that balance compute use it.
"""

from __future__ import annotations

import numpy as np

from go_jax.graph import graph as graph_lib


def colocation_leader(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N,) int32: the node whose device each node takes (itself, or its group's first node).

  The first node of a colocation group in topological order decides the
  group's device, so ``placement[..., leader]`` enforces colocation for any
  batch shape.
  """
  leader = np.arange(graph.num_nodes, dtype=np.int32)
  groups = graph.colocation
  if np.all(groups < 0):
    return leader
  order = graph.topological_order
  grouped = order[groups[order] >= 0]
  ids, first = np.unique(groups[grouped], return_index=True)
  members = np.flatnonzero(groups >= 0)
  leader[members] = grouped[first][np.searchsorted(ids, groups[members])]
  return leader


def apply_colocation(graph: graph_lib.ComputationGraph, placement: np.ndarray) -> np.ndarray:
  """Moves every colocation group onto the device of its first node in topological order."""
  return np.asarray(placement, np.int32)[colocation_leader(graph)]


def single_device(graph: graph_lib.ComputationGraph, num_devices: int,
                  node_cost: np.ndarray | None = None) -> np.ndarray:
  """Every node on device 0: the reference every speedup is measured against."""
  del num_devices, node_cost
  return np.zeros(graph.num_nodes, np.int32)


def round_robin(graph: graph_lib.ComputationGraph, num_devices: int,
                node_cost: np.ndarray | None = None) -> np.ndarray:
  """Node k of the topological order on device ``k mod D``.

  Maximally parallel and maximally chatty: nearly every edge crosses devices,
  which is why it is a useful lower anchor for communication-heavy graphs.
  """
  del node_cost
  placement = np.empty(graph.num_nodes, np.int32)
  placement[graph.topological_order] = np.arange(graph.num_nodes) % num_devices
  return apply_colocation(graph, placement)


def contiguous(graph: graph_lib.ComputationGraph, num_devices: int,
               node_cost: np.ndarray | None = None) -> np.ndarray:
  """Cuts the topological order into D contiguous chunks of equal total cost.

  Node ``k`` (in topological order) with cumulative cost ``c_k`` (including
  itself) out of a total ``C`` goes to device ``min(D - 1, floor(D * (c_k -
  cost_k / 2) / C))``: its midpoint decides its chunk. This is the pipeline-style
  split practitioners use first; with ``node_cost=None`` every node costs 1.
  """
  cost = np.ones(graph.num_nodes) if node_cost is None else np.asarray(node_cost, np.float64)
  if cost.shape != (graph.num_nodes,):
    raise ValueError(f"node_cost must have shape ({graph.num_nodes},), got {cost.shape}")
  order = graph.topological_order
  ordered = cost[order]
  total = ordered.sum()
  placement = np.empty(graph.num_nodes, np.int32)
  if total <= 0:
    placement[order] = np.minimum(np.arange(graph.num_nodes) * num_devices // graph.num_nodes, num_devices - 1)
  else:
    midpoint = np.cumsum(ordered) - ordered / 2
    placement[order] = np.minimum((num_devices * midpoint / total).astype(np.int64), num_devices - 1)
  return apply_colocation(graph, placement)
