"""METIS balanced min-cut placement with a memory-feasibility repair step.

The graph is made undirected; node weights are each node's fastest unfused
run time (so parts are balanced by compute), edge weights are the bytes the
edge carries (so the cut minimises traffic). METIS (via ``pymetis``) needs
positive integer weights: both are scaled to ``1..WEIGHT_SCALE`` (a node or
edge of zero cost gets weight 1). Colocation groups are contracted into one
METIS vertex before partitioning.

Repair: while a device holds more than its memory capacity (parameter +
output bytes of its nodes, as in Baechi), move the unit (colocation group or
node) with the fewest bytes of cut-increasing traffic per byte freed to the
device with the most free memory; stop when every device fits or no move
helps. The result may still be infeasible when the graph does not fit at all;
the simulator then reports OOM.
"""

from __future__ import annotations

import numpy as np
import pymetis

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import objectives

WEIGHT_SCALE = 1_000_000


def _scaled(values: np.ndarray) -> np.ndarray:
  values = np.asarray(values, np.float64)
  top = values.max() if values.size else 0.0
  if top <= 0:
    return np.ones(values.shape, np.int64)
  return np.maximum(1, np.round(values / top * WEIGHT_SCALE)).astype(np.int64)


def _units(graph: graph_lib.ComputationGraph) -> tuple[np.ndarray, int]:
  """(N,) unit id of each node (colocation groups contracted) and the unit count."""
  groups = graph.colocation
  unit = np.empty(graph.num_nodes, np.int64)
  grouped = groups >= 0
  _, group_unit = np.unique(groups[grouped], return_inverse=True)
  num_groups = int(group_unit.max()) + 1 if grouped.any() else 0
  unit[grouped] = group_unit
  unit[~grouped] = num_groups + np.arange(int((~grouped).sum()))
  return unit, num_groups + int((~grouped).sum())


def metis_placement(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                    seed: int = 0) -> np.ndarray:
  """(N,) int32 device per node from METIS, then memory repair."""
  d = cluster.num_devices
  if d == 1:
    return np.zeros(graph.num_nodes, np.int32)
  unit, num_units = _units(graph)
  node_cost = objectives.node_times(graph, cluster).min(axis=1)
  unit_cost = np.bincount(unit, weights=node_cost, minlength=num_units)
  src, dst = unit[graph.senders], unit[graph.receivers]
  keep = src != dst
  pairs = np.concatenate([np.stack([src[keep], dst[keep]], 1), np.stack([dst[keep], src[keep]], 1)])
  weights = np.concatenate([graph.edge_bytes[keep], graph.edge_bytes[keep]])
  # Merge parallel edges between the same units.
  order = np.lexsort((pairs[:, 1], pairs[:, 0]))
  pairs, weights = pairs[order], weights[order]
  if pairs.size:
    first = np.ones(len(pairs), bool)
    first[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)
    starts = np.flatnonzero(first)
    weights = np.add.reduceat(weights, starts)
    pairs = pairs[starts]
  xadj = np.zeros(num_units + 1, np.int64)
  np.cumsum(np.bincount(pairs[:, 0], minlength=num_units) if pairs.size else np.zeros(num_units, np.int64),
            out=xadj[1:])
  adjncy = pairs[:, 1] if pairs.size else np.zeros(0, np.int64)
  options = pymetis.Options(seed=seed)
  # CSRAdjacency, not xadj=/adjncy= (deprecated in pymetis 2025.2, to be removed in 2027).
  _, parts = pymetis.part_graph(d, pymetis.CSRAdjacency(xadj, adjncy), vweights=_scaled(unit_cost),
                                eweights=_scaled(weights) if weights.size else None, options=options)
  unit_device = np.asarray(parts, np.int64)
  unit_device = repair_memory(graph, cluster, unit, unit_device)
  return unit_device[unit].astype(np.int32)


def repair_memory(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster, unit: np.ndarray,
                  unit_device: np.ndarray, max_moves: int | None = None) -> np.ndarray:
  """Moves units off over-full devices (see the module docstring). Returns unit -> device."""
  unit_device = unit_device.copy()
  num_units = unit_device.shape[0]
  memory = np.bincount(unit, weights=graph.param_bytes + graph.output_bytes, minlength=num_units)
  capacity = np.asarray(cluster.mem_capacity, np.float64)
  d = capacity.shape[0]
  # Traffic of each unit to each device, for the cut cost of a move.
  src, dst = unit[graph.senders], unit[graph.receivers]
  cross = src != dst
  max_moves = num_units if max_moves is None else max_moves
  for _ in range(max_moves):
    used = np.bincount(unit_device, weights=memory, minlength=d)
    over = np.flatnonzero(used > capacity)
    if over.size == 0:
      break
    source = int(over[np.argmax(used[over] - capacity[over])])
    target = int(np.argmax(capacity - used))
    if target == source or capacity[target] - used[target] <= 0:
      break
    movable = np.flatnonzero((unit_device == source) & (memory > 0) & (memory <= capacity[target] - used[target]))
    if movable.size == 0:
      break
    # Bytes linking each movable unit to units staying on the source (gained cut) minus
    # bytes to units on the target (saved cut), per byte freed: move the cheapest.
    e_src, e_dst, e_bytes = src[cross], dst[cross], graph.edge_bytes[cross]
    penalty = np.zeros(num_units)
    for a, b in ((e_src, e_dst), (e_dst, e_src)):
      stay = unit_device[b] == source
      go = unit_device[b] == target
      np.add.at(penalty, a[stay], e_bytes[stay])
      np.subtract.at(penalty, a[go], e_bytes[go])
    best = movable[np.argmin(penalty[movable] / memory[movable])]
    unit_device[best] = target
  return unit_device
