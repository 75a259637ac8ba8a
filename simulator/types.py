"""Decisions, results and the simulator's padded graph arrays (shared by both simulators).

The semantics themselves are written down in ``simulator/README.md``; this
module holds the pieces both implementations must compute identically:
the priority -> order-key increment :func:`priority_delta`, the decision
container :class:`Decisions`, the output pytree :class:`SimResult`, and
:class:`SimGraph`, the static-shape arrays of one graph that the vectorized
simulator consumes.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from go_jax.graph import features
from go_jax.graph import graph as graph_lib
from go_jax.graph import ops

#: Priorities are clipped to [-MAX_PRIORITY, MAX_PRIORITY] before use.
MAX_PRIORITY = 30.0
CONTRACTION_CLASS = ops.OP_CLASS_ID["contraction"]


def priority_delta(priority, xp=np):
  """Order-key increment of a node: ``2 ** -clip(priority)`` (> 0, decreasing in priority).

  ``key[i] = max(key[producers]) + priority_delta(priority[i])``. Powers of two
  keep integer priority levels exact in float32 and float64 alike, so both
  simulators order nodes identically.
  """
  level = -xp.clip(priority, -MAX_PRIORITY, MAX_PRIORITY)
  whole = xp.floor(level)
  # ldexp keeps integer levels exact (exp2 of a float need not be, in XLA).
  return xp.ldexp(xp.exp2(level - whole), whole.astype(xp.int32))


class Decisions(NamedTuple):
  """Per-node decisions for one graph (unpadded (N,) or padded (Np,) arrays).

  Attributes:
    placement: (N,) int32 device id in 0..D-1.
    priority: (N,) float32 priority (higher runs earlier); equal = level order.
    fusion: (N,) bool, request to fuse the node into its consumer's kernel.
  """

  placement: Any  # (N,) int32
  priority: Any  # (N,) float
  fusion: Any  # (N,) bool


def default_decisions(num_nodes: int, placement=None) -> Decisions:
  """All on device 0 (or ``placement``), equal priorities, no fusion."""
  placement = np.zeros(num_nodes, np.int32) if placement is None else np.asarray(placement, np.int32)
  return Decisions(placement, np.zeros(num_nodes, np.float32), np.zeros(num_nodes, bool))


def check_decisions(decisions: Decisions, num_nodes: int, num_devices: int) -> Decisions:
  """Validates and converts to numpy; raises ValueError naming the problem."""
  placement = np.asarray(decisions.placement)
  priority = np.asarray(decisions.priority, np.float64)
  fusion = np.asarray(decisions.fusion).astype(bool)
  for name, arr in (("placement", placement), ("priority", priority), ("fusion", fusion)):
    if arr.shape != (num_nodes,):
      raise ValueError(f"decisions.{name} has shape {arr.shape}, expected ({num_nodes},)")
  bad = np.flatnonzero((placement < 0) | (placement >= num_devices))
  if bad.size:
    raise ValueError(f"node {bad[0]}: placement {placement[bad[0]]} is not a device in 0..{num_devices - 1}")
  if not np.all(np.isfinite(priority)):
    raise ValueError(f"node {np.flatnonzero(~np.isfinite(priority))[0]}: priority is not finite")
  return Decisions(placement.astype(np.int32), priority, fusion)


class SimResult(NamedTuple):
  """The simulator's outputs for one decision set (leading batch axes when vmapped).

  Attributes:
    step_time: () seconds, makespan of the step.
    busy_time: (D,) seconds each device spends running kernels.
    peak_memory: (D,) bytes, peak of resident parameters plus live tensors.
    oom: (D,) bool, peak_memory > capacity.
    bytes_moved: () bytes copied between devices.
    max_load: () seconds, the pipelined-training max-load objective (placement only).
    num_iterations: () int32 fixed-point iterations used (0 for the reference).
  """

  step_time: Any
  busy_time: Any
  peak_memory: Any
  oom: Any
  bytes_moved: Any
  max_load: Any
  num_iterations: Any


def copy_bytes(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N,) bytes of the tensor a node sends to another device: its largest out-edge."""
  out = np.zeros(graph.num_nodes)
  np.maximum.at(out, graph.senders, graph.edge_bytes)
  return out


def local_output_bytes(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N,) bytes a node's output occupies on its own device, beyond its resident parameters.

  A source node (a parameter, constant or iota) whose output *is* its resident
  parameter (``param_bytes``, counted all step) takes no second copy of those
  bytes on its own device; every other output counts in full. Copies to other
  devices always carry the full tensor.
  """
  source = graph.op_class == ops.OP_CLASS_ID["source"]
  return np.where(source, np.maximum(graph.output_bytes - graph.param_bytes, 0.0), graph.output_bytes)


def measured_transfer(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N,) measured seconds to copy a node's output (largest over its out-edges), -1 if unknown."""
  out = np.full(graph.num_nodes, -1.0)
  if graph.transfer_time is not None:
    known = ~np.isnan(graph.transfer_time)
    np.maximum.at(out, graph.senders[known], graph.transfer_time[known])
  return out


def latency_table(graph: graph_lib.ComputationGraph, device_kinds: Sequence[str]) -> np.ndarray:
  """(N, D) measured seconds of each node on each device (by device kind), -1 if unknown."""
  out = np.full((graph.num_nodes, len(device_kinds)), -1.0)
  for d, kind in enumerate(device_kinds):
    if kind in graph.latency:
      measured = graph.latency[kind]
      out[:, d] = np.where(np.isnan(measured), -1.0, measured)
  return out


def single_consumer(graph: graph_lib.ComputationGraph) -> tuple[np.ndarray, np.ndarray]:
  """(N,) the only consumer of each node (-1 unless out-degree is 1) and that edge's bytes."""
  consumer = np.full(graph.num_nodes, -1, np.int32)
  edge_bytes = np.zeros(graph.num_nodes)
  one = graph.out_degree[graph.senders] == 1
  consumer[graph.senders[one]] = graph.receivers[one]
  edge_bytes[graph.senders[one]] = graph.edge_bytes[one]
  return consumer, edge_bytes


class SimGraph(NamedTuple):
  """Static-shape arrays of one graph for the vectorized simulator (numpy or jax leaves).

  Built by :func:`to_sim_graph` for one cluster's device kinds. ``Np``/``Ep``
  are the padded node/edge counts (power-of-two buckets); padding nodes have
  ``node_mask`` False and padding edges ``edge_mask`` False.
  """

  node_mask: Any  # (Np,) bool
  op_class: Any  # (Np,) int32
  flops: Any  # (Np,) float, FLOPs
  bytes_accessed: Any  # (Np,) float, bytes read + written
  bytes_written: Any  # (Np,) float, bytes
  output_bytes: Any  # (Np,) float, bytes the output occupies on its device (local_output_bytes)
  param_bytes: Any  # (Np,) float, bytes
  copy_bytes: Any  # (Np,) float, bytes sent per copy
  transfer_time: Any  # (Np,) float, measured seconds per copy, -1 unknown
  latency: Any  # (Np, D) float, measured seconds per device, -1 unknown
  consumer: Any  # (Np,) int32, only consumer or -1
  consumer_edge_bytes: Any  # (Np,) float, bytes on the edge to `consumer`
  senders: Any  # (Ep,) int32
  receivers: Any  # (Ep,) int32
  edge_mask: Any  # (Ep,) bool


def to_sim_graph(graph: graph_lib.ComputationGraph, device_kinds: Sequence[str],
                 num_nodes: int | None = None, num_edges: int | None = None,
                 dtype=np.float32) -> SimGraph:
  """Pads ``graph`` for the vectorized simulator (buckets as in :mod:`go_jax.graph.features`).

  Args:
    graph: the graph.
    device_kinds: the cluster's device kinds (selects measured latencies).
    num_nodes: padded node count (default: bucket of N + 1).
    num_edges: padded edge count (default: bucket of E).
    dtype: float dtype of the real-valued leaves.
  """
  n, e = graph.num_nodes, graph.num_edges
  num_nodes = features.bucket_size(n + 1) if num_nodes is None else num_nodes
  num_edges = features.bucket_size(e) if num_edges is None else num_edges
  if num_nodes < n + 1 or num_edges < e:
    raise ValueError(f"cannot pad a graph of {n} nodes / {e} edges to {num_nodes} / {num_edges}")

  def pad(values, fill, dt, size=num_nodes):
    values = np.asarray(values)
    out = np.full((size,) + values.shape[1:], fill, dt)
    out[: len(values)] = values
    return out

  consumer, consumer_bytes = single_consumer(graph)
  return SimGraph(
      node_mask=pad(np.ones(n, bool), False, bool),
      op_class=pad(graph.op_class, 0, np.int32),
      flops=pad(graph.flops, 0, dtype),
      bytes_accessed=pad(graph.bytes_accessed, 0, dtype),
      bytes_written=pad(graph.bytes_written, 0, dtype),
      output_bytes=pad(local_output_bytes(graph), 0, dtype),
      param_bytes=pad(graph.param_bytes, 0, dtype),
      copy_bytes=pad(copy_bytes(graph), 0, dtype),
      transfer_time=pad(measured_transfer(graph), -1, dtype),
      latency=pad(latency_table(graph, device_kinds), -1, dtype),
      consumer=pad(consumer, -1, np.int32),
      consumer_edge_bytes=pad(consumer_bytes, 0, dtype),
      senders=pad(graph.senders, 0, np.int32, num_edges),
      receivers=pad(graph.receivers, 0, np.int32, num_edges),
      edge_mask=pad(np.ones(e, bool), False, bool, num_edges),
  )


def pad_decisions(decisions: Decisions, num_nodes: int) -> Decisions:
  """Pads (N,) decisions to (num_nodes,) (padding: device 0, priority 0, no fusion)."""
  def pad(arr, dt):
    arr = np.asarray(arr, dt)
    out = np.zeros(arr.shape[:-1] + (num_nodes,), dt)
    out[..., : arr.shape[-1]] = arr
    return out
  return Decisions(pad(decisions.placement, np.int32), pad(decisions.priority, np.float32),
                   pad(decisions.fusion, bool))
