"""List-scheduling placement heuristics: HEFT and Baechi's m-TOPO, m-ETF and m-SCT.

All three build a schedule in their own simple model of the cluster (every
node costs its unfused time on a device, every cross-device edge costs one
copy, ``latency + bytes / bandwidth`` or the measured transfer time; links
are not contended) and return a placement **and** the order in which they
scheduled nodes, turned into priorities, so that the simulator runs each
device's ops in the heuristic's order.

Because their model lets copies overlap freely, they can lose badly where the
simulator serializes copies on each link. Measured on gnmt_4 / v100x4 (51k
ops): m-ETF balances the devices' busy time (272-305 ms each) but cuts 42,240 of
83,692 edges and moves 166 GB, against the expert's 3,474 edges and 3 GB, so
its step takes 1,588 ms against the expert's 732 ms (HEFT: 124 GB, 1,099 ms).

* **HEFT** (Topcuoglu et al., 2002): nodes in decreasing *upward rank*
  ``rank(i) = mean_d time(i, d) + max_{j in succ(i)} (mean comm(i) + rank(j))``;
  each goes to the device where it finishes earliest. We use the
  non-insertion variant (a node is appended to its device's queue), which is
  exactly representable by the simulator's in-order devices.
* **m-TOPO** (Baechi, Jeon et al., SoCC 2020): topological order, filling
  devices one after another up to ``total memory / D`` each (and never beyond
  a device's capacity).
* **m-ETF** (Baechi): earliest task first: repeatedly schedule the (ready node,
  device) pair with the earliest start time, among devices whose memory still
  fits the node; ties go to the node with the larger upward rank, then the
  lower node id, then the lower device id.
* **m-SCT** (Baechi, after Hanen & Munier's small-communication-time list
  scheduling): every node has at most one *favorite child* (and every node at
  most one favorite parent) that should run on its device, so that their edge
  costs no copy. m-ETF, with two changes: (1) a device is *awake* when the
  favorite child of the last node it ran is ready and starts earliest on it;
  an awake device keeps itself for that child, and any other node may start
  on it only if the node is *urgent* by then (its inputs are on every device,
  so waiting gains it nothing); (2) ties go first to a favorite child on its
  favorite parent's device. Memory limits are those of m-ETF, so a full
  device is never awake. Baechi chooses favorite children by solving SCT's LP
  relaxation (variables ``x_ij`` in [0, 1] per edge, start times and the
  makespan; ``s_i + p_i + c_ij x_ij <= s_j``, ``sum_j x_ij >= |succ(i)| - 1``,
  ``sum_i x_ij >= |pred(j)| - 1``; minimise the makespan) with cvxopt/MOSEK
  and rounding ``x_ij < 0.5`` to "favorite". **We do not solve the LP** (no LP
  solver among our dependencies, and an LP over 80k-edge graphs would dwarf
  the heuristic); :func:`favorite_children` instead applies a greedy rule that
  keeps the LP's two constraints and picks, critical path first, each node's
  highest-ranked unclaimed child. Baechi's public code (``placer/m_sct.py``)
  always solves the LP; the greedy rule is our substitute, not theirs.

A node's memory is its parameter bytes plus its output bytes (Baechi's
permanent + output memory).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import objectives
from simulator import types as sim_types


class CostModel(NamedTuple):
  """The heuristics' view of a (graph, cluster) problem (float64 numpy)."""

  node_time: np.ndarray  # (N, D) seconds of each node on each device
  copy_bytes: np.ndarray  # (N,) bytes a node sends per copy
  measured_transfer: np.ndarray  # (N,) seconds per copy if measured, else -1
  link_latency: np.ndarray  # (D, D) seconds
  link_bandwidth: np.ndarray  # (D, D) bytes/s
  memory: np.ndarray  # (N,) bytes a node occupies on its device
  capacity: np.ndarray  # (D,) bytes

  def comm(self, node: int, source: int) -> np.ndarray:
    """(D,) seconds to bring ``node``'s output from ``source`` to each device (0 on source)."""
    if self.measured_transfer[node] >= 0:
      out = np.full(self.link_latency.shape[0], self.measured_transfer[node])
    else:
      out = self.link_latency[source] + self.copy_bytes[node] / self.link_bandwidth[source]
    out[source] = 0.0
    return out


def cost_model(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> CostModel:
  return CostModel(
      node_time=objectives.node_times(graph, cluster),
      copy_bytes=sim_types.copy_bytes(graph),
      measured_transfer=sim_types.measured_transfer(graph),
      link_latency=np.asarray(cluster.link_latency, np.float64),
      link_bandwidth=np.asarray(cluster.link_bandwidth, np.float64),
      memory=graph.param_bytes + graph.output_bytes,
      capacity=np.asarray(cluster.mem_capacity, np.float64),
  )


def mean_comm(costs: CostModel) -> np.ndarray:
  """(N,) mean seconds of one copy of each node's output over distinct device pairs."""
  d = costs.link_latency.shape[0]
  if d == 1:
    return np.zeros_like(costs.copy_bytes)
  off = ~np.eye(d, dtype=bool)
  mean_latency = costs.link_latency[off].mean()
  mean_inverse_bw = (1.0 / costs.link_bandwidth[off]).mean()
  estimate = mean_latency + costs.copy_bytes * mean_inverse_bw
  return np.where(costs.measured_transfer >= 0, costs.measured_transfer, estimate)


def upward_rank(graph: graph_lib.ComputationGraph, costs: CostModel) -> np.ndarray:
  """(N,) HEFT upward rank in seconds (longest remaining path incl. mean comm)."""
  mean_time = costs.node_time.mean(axis=1)
  comm = mean_comm(costs)
  rank = mean_time.copy()
  for i in graph.topological_order[::-1]:
    succ = graph.consumers(i)
    if succ.size:
      rank[i] = mean_time[i] + comm[i] + rank[succ].max()
  return rank


def _order_to_priority(graph: graph_lib.ComputationGraph, order: np.ndarray) -> np.ndarray:
  from simulator import reference  # pylint: disable=g-import-not-at-top
  return reference.priorities_from_order(graph, order)


class Schedule(NamedTuple):
  placement: np.ndarray  # (N,) int32 device per node
  priority: np.ndarray  # (N,) float priorities reproducing the heuristic's order
  finish_time: float  # seconds, the heuristic's own estimate of the makespan


def _place_in_order(graph, costs: CostModel, order: np.ndarray, choose) -> Schedule:
  """Appends nodes in ``order`` to the device picked by ``choose(node, start, finish)``."""
  d = costs.node_time.shape[1]
  available = np.zeros(d)
  finish = np.zeros(graph.num_nodes)
  placement = np.full(graph.num_nodes, -1, np.int32)
  for i in order:
    ready = np.zeros(d)
    for p in graph.producers(i):
      ready = np.maximum(ready, finish[p] + costs.comm(p, placement[p]))
    start = np.maximum(available, ready)
    end = start + costs.node_time[i]
    device = choose(i, start, end)
    placement[i] = device
    finish[i] = end[device]
    available[device] = end[device]
  return Schedule(placement, _order_to_priority(graph, order), float(finish.max()))


def heft(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> Schedule:
  """HEFT (non-insertion): decreasing upward rank, earliest-finish device."""
  costs = cost_model(graph, cluster)
  rank = upward_rank(graph, costs)
  # Decreasing rank is topological when every node costs > 0; the level breaks
  # ties (and zero-cost chains) so the order stays topological.
  order = np.lexsort((np.arange(graph.num_nodes), graph.levels, -rank))
  order = make_topological(graph, order)
  return _place_in_order(graph, costs, order, lambda i, start, end: int(np.argmin(end)))


def make_topological(graph: graph_lib.ComputationGraph, preferred: np.ndarray) -> np.ndarray:
  """The topological order closest to ``preferred``: always the ready node ranked first in it."""
  import heapq  # pylint: disable=g-import-not-at-top
  position = np.empty(graph.num_nodes, np.int64)
  position[preferred] = np.arange(graph.num_nodes)
  remaining = graph.in_degree.astype(np.int64).copy()
  heap = [(int(position[i]), int(i)) for i in np.flatnonzero(remaining == 0)]
  heapq.heapify(heap)
  order = []
  while heap:
    _, i = heapq.heappop(heap)
    order.append(i)
    for c in graph.consumers(i):
      remaining[c] -= 1
      if remaining[c] == 0:
        heapq.heappush(heap, (int(position[c]), int(c)))
  return np.asarray(order, np.int32)


def m_topo(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> Schedule:
  """m-TOPO: topological order, devices filled in turn up to total memory / D."""
  costs = cost_model(graph, cluster)
  d = cluster.num_devices
  order = graph.topological_order
  limit = np.minimum(costs.memory.sum() / d, costs.capacity)
  used = np.zeros(d)
  state = {"device": 0}

  def choose(i, start, end):
    del start, end
    device = state["device"]
    while device < d - 1 and used[device] + costs.memory[i] > limit[device] and used[device] > 0:
      device += 1
    state["device"] = device
    used[device] += costs.memory[i]
    return device

  return _place_in_order(graph, costs, order, choose)


def m_etf(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> Schedule:
  """m-ETF: repeatedly start the (ready node, device) pair that can start earliest."""
  return _earliest_start(graph, cost_model(graph, cluster))


def favorite_children(graph: graph_lib.ComputationGraph, costs: CostModel) -> np.ndarray:
  """(N,) int32 favorite child of every node (-1: none), by the greedy critical-path rule.

  Baechi picks favorite children by rounding the LP relaxation of SCT (see the
  module docstring); without an LP solver we keep the LP's constraints (at most
  one favorite child per node, at most one favorite parent per node) and give
  each node, in decreasing upward rank (ties: lower id), the child with the
  largest upward rank (ties: lower id) that no earlier node has claimed: the
  edge the LP zeroes first is the one on the longest remaining path.
  """
  rank = upward_rank(graph, costs)
  favorite = np.full(graph.num_nodes, -1, np.int32)
  claimed = np.zeros(graph.num_nodes, bool)
  for i in np.lexsort((np.arange(graph.num_nodes), -rank)):
    children = np.unique(graph.consumers(i))
    children = children[~claimed[children]]
    if children.size:
      child = children[np.lexsort((children, -rank[children]))[0]]
      favorite[i] = child
      claimed[child] = True
  return favorite


def m_sct(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> Schedule:
  """m-SCT: m-ETF that keeps each node's favorite child on its device (see the module docstring)."""
  costs = cost_model(graph, cluster)
  return _earliest_start(graph, costs, favorite_children(graph, costs))


def _earliest_start(graph: graph_lib.ComputationGraph, costs: CostModel,
                    favorite: np.ndarray | None = None) -> Schedule:
  """Earliest-start list scheduling under memory limits: m-ETF, or m-SCT given ``favorite``.

  Args:
    graph: the graph.
    costs: the heuristics' cost model.
    favorite: (N,) int32 favorite child per node (-1: none) for m-SCT; None
      for m-ETF.

  Returns:
    The placement, the scheduling order as priorities and the makespan
    estimate (seconds).
  """
  d = costs.node_time.shape[1]
  rank = upward_rank(graph, costs)
  n = graph.num_nodes
  favorite_parent = np.full(n, -1, np.int64)
  if favorite is not None:
    has_child = np.flatnonzero(favorite >= 0)
    favorite_parent[favorite[has_child]] = has_child
  remaining = graph.in_degree.astype(np.int64).copy()
  ready_at = np.zeros((n, d))  # (N, D) seconds: when a node's inputs are all on each device
  urgent_at = np.zeros(n)  # seconds: when a node's inputs are on every device (Baechi's urgent time)
  finish = np.zeros(n)
  placement = np.full(n, -1, np.int32)
  available = np.zeros(d)  # (D,) seconds: when each device is free
  used = np.zeros(d)  # (D,) bytes
  last = np.full(d, -1, np.int64)  # last node scheduled on each device
  is_ready = np.zeros(n, bool)
  ready = list(np.flatnonzero(remaining == 0))
  is_ready[ready] = True
  order = []
  while ready:
    nodes = np.asarray(ready)
    start = np.maximum(ready_at[nodes], available[None, :])  # (R, D)
    fits = used[None, :] + costs.memory[nodes, None] <= costs.capacity[None, :]
    # A node that fits nowhere goes where memory is least used (it will OOM).
    start = np.where(fits | ~fits.any(axis=1, keepdims=True), start, np.inf)
    if favorite is not None:
      _wait_for_favorites(start, nodes, favorite, last, is_ready, urgent_at)
    rows, devices = np.nonzero(start == start.min())
    # Ties: a favorite child on its favorite parent's device, then larger upward rank,
    # then lower node id, then lower device.
    tied = nodes[rows]
    parent = favorite_parent[tied]
    apart = (parent < 0) | (placement[np.maximum(parent, 0)] != devices)
    k = np.lexsort((devices, tied, -rank[tied], apart))[0]
    row, i, device = int(rows[k]), int(tied[k]), int(devices[k])
    if not fits[row].any():
      device = int(np.argmin(used))
    ready.remove(i)
    is_ready[i] = False
    order.append(i)
    placement[i] = device
    finish[i] = max(ready_at[i, device], available[device]) + costs.node_time[i, device]
    available[device] = finish[i]
    used[device] += costs.memory[i]
    last[device] = i
    arrival = finish[i] + costs.comm(i, device)  # (D,)
    for c in graph.consumers(i):
      ready_at[c] = np.maximum(ready_at[c], arrival)
      urgent_at[c] = max(urgent_at[c], arrival.max())
      remaining[c] -= 1
      if remaining[c] == 0:
        ready.append(int(c))
        is_ready[c] = True
  order = np.asarray(order, np.int32)
  return Schedule(placement, _order_to_priority(graph, order), float(finish.max()))


def _wait_for_favorites(start: np.ndarray, nodes: np.ndarray, favorite: np.ndarray, last: np.ndarray,
                        is_ready: np.ndarray, urgent_at: np.ndarray) -> None:
  """SCT's waiting rule, in place on ``start`` ((R, D) seconds, inf = not allowed).

  A device is *awake* when the favorite child of the last node it ran is ready
  and starts earliest there; it then keeps itself for that child: another
  ready node may start on it only if the node is *urgent* by then (its inputs
  are on every device, so nothing is gained by waiting elsewhere).
  """
  for device in np.flatnonzero(last >= 0):
    child = favorite[last[device]]
    if child < 0 or not is_ready[child]:
      continue
    row = int(np.flatnonzero(nodes == child)[0])
    if not np.isfinite(start[row, device]) or start[row, device] > start[row].min():
      continue
    blocked = urgent_at[nodes] > start[:, device]
    blocked[row] = False
    start[blocked, device] = np.inf
