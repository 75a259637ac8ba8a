"""The search baselines' shared objective: penalised step time of a batch of decisions.

Every search method (:mod:`go_jax.baselines.search`) scores candidates with
:class:`BatchedObjective`: it simulates a ``(B, N)`` batch of placements and
priorities with the vectorized simulator (fusion off) and returns ``(B,)``
costs in seconds,

  ``cost = step_time``                                   if no device runs out of memory,
  ``cost = step_time + U * (1 + overflow / capacity)``   otherwise,

where ``overflow = sum_d max(0, peak_memory_d - capacity_d)`` (bytes),
``capacity = sum_d capacity_d`` and ``U`` (:func:`step_time_upper_bound`) is
larger than the step time of *any* decision set. So every infeasible
candidate ranks after every feasible one, and among infeasible ones the
smaller overflow wins.

**Budget accounting.** ``BatchedObjective.evaluations`` counts the decision
vectors a caller asked to score, one per row. Rows the objective adds to pad
the last chunk to the compiled batch size (copies of the first row) are
simulator work but not search information, so they are not counted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from go_jax.baselines import placement
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib
from simulator import objectives
from simulator import types as sim_types

#: Upper bound on the floats of the (D, Np) arrays one simulation holds at once (sizes the chunks).
_FLOATS_PER_CHUNK = 2**22


def step_time_upper_bound(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> float:
  """Seconds no decision set's step time can reach: every kernel and copy run one after another.

  Until the step ends some kernel or some copy is always running (a device
  only idles while its next kernel's input is computed or copied), so the step
  time is at most the sum of all unfused node times (slowest device) plus every
  node's output copied to each of the D - 1 other devices (slowest link).
  Doubled, plus one second, for slack against float32 rounding.
  """
  work = objectives.node_times(graph, cluster).max(axis=1).sum()
  transfer = sim_types.measured_transfer(graph)
  latency = np.asarray(cluster.link_latency, np.float64)
  bandwidth = np.asarray(cluster.link_bandwidth, np.float64)
  copy = latency.max() + sim_types.copy_bytes(graph) / bandwidth.min()
  copy = np.where(transfer >= 0, np.maximum(transfer, 0.0), copy)
  return float(2.0 * (work + (cluster.num_devices - 1) * copy.sum()) + 1.0)


# Re-exported: the one colocation mechanism lives in placement.py.
colocation_leader = placement.colocation_leader


@jax.jit
def penalized_cost_batch(g: sim_types.SimGraph, cluster: cluster_lib.Cluster, decisions: sim_types.Decisions,
                         penalty: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Penalised costs of a batch of padded decisions (see the module docstring).

  Args:
    g: the padded graph (Np nodes).
    cluster: the cluster with jax leaves (D devices).
    decisions: (B, Np) padded decisions.
    penalty: () seconds, the OOM penalty scale ``U``.

  Returns:
    ``(cost, peak_memory)``: (B,) seconds and (B, D) bytes.
  """
  result = simulator.simulate_batch(g, cluster, decisions)
  overflow = jnp.maximum(result.peak_memory - cluster.mem_capacity, 0.0).sum(axis=-1)
  oom = jnp.any(result.oom, axis=-1)
  cost = result.step_time + jnp.where(oom, penalty * (1.0 + overflow / cluster.mem_capacity.sum()), 0.0)
  return cost, result.peak_memory


class BatchedObjective:
  """Scores (B, N) placements and priorities with the vectorized simulator; counts evaluations.

  Attributes:
    graph: the graph (N nodes).
    cluster: the numpy cluster (D devices).
    leader: (N,) int32, see :func:`go_jax.baselines.placement.colocation_leader`; callers apply it to placements.
    penalty: seconds, the OOM penalty scale ``U`` (:func:`step_time_upper_bound`).
    chunk_size: rows simulated per compiled call (fixed, so one compilation serves a run).
    evaluations: decision vectors scored so far.
  """

  def __init__(self, graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
               chunk_size: int | None = None):
    self.graph = graph
    self.cluster = cluster
    self.leader = placement.colocation_leader(graph)
    self.penalty = step_time_upper_bound(graph, cluster)
    self._sim_graph, self._jax_cluster = simulator.prepare(graph, cluster)
    padded_nodes = int(self._sim_graph.node_mask.shape[0])
    if chunk_size is None:
      chunk_size = int(np.clip(_FLOATS_PER_CHUNK // (cluster.num_devices * padded_nodes), 1, 32))
    self.chunk_size = chunk_size
    self.evaluations = 0

  @property
  def num_nodes(self) -> int:
    return self.graph.num_nodes

  @property
  def num_devices(self) -> int:
    return self.cluster.num_devices

  def __call__(self, placement: np.ndarray, priority: np.ndarray,
               fusion: np.ndarray | None = None) -> np.ndarray:
    """Penalised costs of a batch (colocation must already be applied).

    Args:
      placement: (B, N) int device ids in 0..D-1.
      priority: (B, N) float priorities.
      fusion: optional (B, N) bool fusion requests (default: none).

    Returns:
      (B,) float64 penalised costs, seconds.
    """
    return self.detailed(placement, priority, fusion)[0]

  def detailed(self, placement: np.ndarray, priority: np.ndarray,
               fusion: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Like ``__call__`` (and counted the same), also returning the peak memory.

    Returns:
      ``(cost, peak_memory)``: (B,) seconds and (B, D) bytes, float64.
    """
    placement = np.asarray(placement, np.int32)
    priority = np.asarray(priority, np.float32)
    fusion = np.zeros(placement.shape, bool) if fusion is None else np.asarray(fusion, bool)
    batch = placement.shape[0]
    if batch == 0:
      return np.zeros(0), np.zeros((0, self.num_devices))
    padded_nodes = int(self._sim_graph.node_mask.shape[0])
    penalty = jnp.asarray(self.penalty, self._jax_cluster.peak_flops.dtype)
    costs, peaks = [], []
    for start in range(0, batch, self.chunk_size):
      rows = np.arange(start, min(start + self.chunk_size, batch))
      rows = np.concatenate([rows, np.full(self.chunk_size - rows.size, rows[0])])
      decisions = sim_types.pad_decisions(
          sim_types.Decisions(placement[rows], priority[rows], fusion[rows]),
          padded_nodes)
      cost, peak = penalized_cost_batch(self._sim_graph, self._jax_cluster, decisions, penalty)
      costs.append(np.asarray(cost, np.float64))
      peaks.append(np.asarray(peak, np.float64))
    self.evaluations += batch
    return np.concatenate(costs)[:batch], np.concatenate(peaks)[:batch]
