"""The vectorized simulator: pure JAX, jit + vmap, static shapes, exact same semantics as the reference.

:func:`simulate` / :func:`simulate_batch` select one of two exact engines
(``engine=``): ``"scan"`` (:mod:`simulator.scan_engine`, sequential in key
order; the default on CPU) or ``"fixed_point"`` (this module, below;
depth-parallel, the default on accelerators, and the one to differentiate).

Fixed-point engine, one evaluation (:func:`simulate_one`, one padded graph and one decision set):

1. **Keys and fusion legality** (Jacobi iteration to a fixed point, at most
   graph-depth iterations): ``key = max(key[producers]) + delta(priority)``
   and ``has_contraction`` of every kernel tree, both by ``segment_max`` over
   edges. A fusion request j -> c is applied by the reference's rule (see
   :func:`simulator.reference.apply_fusion`): the first contraction-carrying
   candidate child of c in node order is accepted iff c is no contraction.
2. **Kernels**: roots by pointer jumping (``log2(Np)`` gathers); costs
   aggregated to roots with ``segment_sum``.
3. **Order**: one sort of kernels by ``(device, key, index)``. Device d's
   kernels are a contiguous segment in that order; link (s, d)'s copies are the
   subsequence of source segment s whose producers need a copy to d, so links
   reuse the same order with inactive elements (no second sort).
4. **Times** (the in-order schedule is the longest-path solution of a max-plus
   system): starting from zero, iterate (a) per-link in-order scans
   ``c_k = max(c_{k-1}, finish[producer_k]) + copy_k``, (b) ready time of each
   kernel = max over its external inputs of their arrival on its device
   (``segment_max``), (c) per-device in-order scans
   ``f_k = max(f_{k-1}, ready_k) + t_k``. (a) and (c) are max-plus linear
   recurrences solved by ``lax.associative_scan`` over the elements
   ``x -> max(x + a, b)``. The iteration is monotone and reaches the exact
   solution after (cross-device hops on the critical chain + 2) rounds; it
   runs in a ``lax.while_loop`` until nothing changes, or for a static
   ``num_iterations`` (a ``fori_loop``) when reverse-mode gradients are needed.
5. **Memory**: tensor lifetimes as alloc/free events, one sort by
   ``(device, time, free-before-alloc)``, a cumulative sum and a segment max.

Every quantity reused in a comparison (a finish time that is also the next
start, a copy end that is also a ready time) is computed once and reused, so
ties that are exact in the reference are exact here too.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator import cluster as cluster_lib
from simulator import scan_engine
from simulator import types

#: Engines: ``"scan"`` (sequential in key order, :mod:`simulator.scan_engine`; CPU) and
#: ``"fixed_point"`` (depth-parallel, this module; accelerators and reverse-mode gradients).
ENGINES = ("scan", "fixed_point")


def _maxplus_scan(a, b, segment_start):
  """Segmented prefix of ``x -> max(x + a_k, b_k)`` along the last axis, from ``x = 0``.

  Args:
    a: (..., L) additive part (durations).
    b: (..., L) floor part (ready + duration; ``-inf`` for an inactive element).
    segment_start: (..., L) bool, True where a new segment (device or link) starts.

  Returns:
    (..., L) value after each element: ``f_k = max(f_{k-1}, b_k - a_k) + a_k``.
  """
  def combine(left, right):
    a1, b1, s1 = left
    a2, b2, s2 = right
    return (jnp.where(s2, a2, a1 + a2), jnp.where(s2, b2, jnp.maximum(b1 + a2, b2)), s1 | s2)

  prefix_a, prefix_b, _ = lax.associative_scan(combine, (a, b, segment_start), axis=a.ndim - 1)
  return jnp.maximum(prefix_a, prefix_b)


def _shift_right(values, segment_start):
  """Value before each element within its segment (0 at a segment start): the 'free since' time."""
  shifted = jnp.concatenate([jnp.zeros_like(values[..., :1]), values[..., :-1]], axis=-1)
  return jnp.where(segment_start, 0.0, shifted)


def _keys_and_fusion(g: types.SimGraph, priority, candidate, is_contraction):
  """Order keys (Np,) and has_contraction (Np,) by Jacobi iteration to their fixed point."""
  num_nodes = g.node_mask.shape[0]
  index = jnp.arange(num_nodes)
  delta = types.priority_delta(priority, jnp)
  consumer = jnp.maximum(g.consumer, 0)

  def step(key, has_contraction):
    producer_key = jax.ops.segment_max(jnp.where(g.edge_mask, key[g.senders], 0.0), g.receivers,
                                       num_segments=num_nodes)
    new_key = jnp.maximum(producer_key, 0.0) + delta
    first = jax.ops.segment_min(jnp.where(candidate & has_contraction, index, num_nodes), consumer,
                                num_segments=num_nodes)
    return new_key, is_contraction | (first < num_nodes), first

  def cond(state):
    return state[-1]

  def body(state):
    key, has_contraction, _, _ = state
    new_key, new_has, first = step(key, has_contraction)
    changed = jnp.any(new_key != key) | jnp.any(new_has != has_contraction)
    return new_key, new_has, first, changed

  init = (delta, is_contraction, jnp.full(num_nodes, num_nodes), jnp.array(True))
  key, has_contraction, first, _ = lax.while_loop(cond, body, init)
  return key, has_contraction, first


def max_load(g, cluster, placement, node_time, need, copy_time):
  """Pipelined max-load (seconds) from unfused node times; see :mod:`simulator.objectives`."""
  num_devices = cluster.peak_flops.shape[0]
  no_comm = jnp.asarray([kind == "cpu" for kind in cluster.device_kinds] or [False] * num_devices)
  load = jax.ops.segment_sum(jnp.where(g.node_mask, node_time, 0.0), placement, num_segments=num_devices)
  charged = jnp.where(need, copy_time, 0.0)  # (D, Np)
  load = load + jnp.where(no_comm, 0.0, charged.sum(axis=1))
  sender = jnp.where(no_comm[placement], 0.0, charged.max(axis=0))
  load = load + jax.ops.segment_sum(sender, placement, num_segments=num_devices)
  return load.max()


class Kernels(NamedTuple):
  """Per-decision kernel structure shared by both engines (one example, no batch axes).

  Attributes:
    placement: (Np,) int32 device of each node (0 for padding).
    key: (Np,) order keys.
    fused: (Np,) bool, fusion request applied.
    root: (Np,) int32 kernel root of each node.
    is_root: (Np,) bool, real node that is a kernel (not fused).
    duration: (Np,) seconds of each kernel (0 for members and padding).
    node_time: (Np,) seconds of each node unfused (max-load).
    external: (Ep,) bool, real edge between two different kernels.
    consumer_kernel: (Ep,) int32 kernel root of each edge's receiver.
    destination: (Ep,) int32 device of each edge's receiver.
    cross: (Ep,) bool, external edge that needs a copy.
    copy_slot: (Ep,) int32 flat (D, Np) index ``destination * Np + sender``.
    need: (D, Np) bool, node's output is copied to device d.
    copy_time: (D, Np) seconds of a copy of each node's output to d.
  """

  placement: Any  # (Np,) int32
  key: Any  # (Np,) float
  fused: Any  # (Np,) bool
  root: Any  # (Np,) int32
  is_root: Any  # (Np,) bool
  duration: Any  # (Np,) float, s
  node_time: Any  # (Np,) float, s
  external: Any  # (Ep,) bool
  consumer_kernel: Any  # (Ep,) int32
  destination: Any  # (Ep,) int32
  cross: Any  # (Ep,) bool
  copy_slot: Any  # (Ep,) int32
  need: Any  # (D, Np) bool
  copy_time: Any  # (D, Np) float, s


def fusion_inputs(g: types.SimGraph, cluster: cluster_lib.Cluster, decisions: types.Decisions):
  """Placement (Np,) int32, measured latency on it (Np,) s, candidate (Np,) and is_contraction (Np,) bools."""
  dtype = cluster.peak_flops.dtype
  mask = g.node_mask
  placement = jnp.where(mask, decisions.placement, 0).astype(jnp.int32)
  measured = jnp.take_along_axis(g.latency.astype(dtype), placement[:, None], axis=1)[:, 0]
  has_consumer = g.consumer >= 0
  consumer = jnp.maximum(g.consumer, 0)
  candidate = (decisions.fusion & mask & has_consumer & (measured < 0)
               & (placement == placement[consumer]) & (measured[consumer] < 0))
  is_contraction = mask & (g.op_class == types.CONTRACTION_CLASS)
  return placement, measured, candidate, is_contraction


def kernels(g: types.SimGraph, cluster: cluster_lib.Cluster, decisions: types.Decisions,
            keys_and_fusion=None) -> Kernels:
  """Keys, fusion, kernel roots, durations and copies of one decision set (steps 1-2 above).

  Args:
    g: the padded graph.
    cluster: the cluster (D devices).
    decisions: (Np,) decisions.
    keys_and_fusion: ``f(g, priority, candidate, is_contraction) -> (key, has_contraction, first)``
      (all (Np,)); default: the Jacobi iteration :func:`_keys_and_fusion`.
  """
  keys_and_fusion = keys_and_fusion or _keys_and_fusion
  num_nodes = g.node_mask.shape[0]
  num_devices = cluster.peak_flops.shape[0]
  dtype = cluster.peak_flops.dtype
  index = jnp.arange(num_nodes)
  mask = g.node_mask
  edge_mask = g.edge_mask
  senders, receivers = g.senders, g.receivers
  placement, measured, candidate, is_contraction = fusion_inputs(g, cluster, decisions)
  consumer = jnp.maximum(g.consumer, 0)
  key, has_contraction, first = keys_and_fusion(g, decisions.priority.astype(dtype), candidate,
                                                is_contraction)
  fused = candidate & (~has_contraction | (~is_contraction[consumer] & (first[consumer] == index)))

  # Roots by pointer jumping, costs aggregated at the root.
  root = jnp.where(fused, consumer, index)
  for _ in range(max(1, math.ceil(math.log2(num_nodes)))):
    root = root[root]
  is_root = mask & ~fused
  compute = g.flops.astype(dtype) / (cluster.peak_flops[placement] * cluster.eff[g.op_class])
  internal = jnp.where(fused, g.bytes_written + g.consumer_edge_bytes, 0.0)
  traffic = jax.ops.segment_sum(g.bytes_accessed - internal, root, num_segments=num_nodes)
  bandwidth = cluster.mem_bandwidth[placement] * cluster.eff_bw
  launch = cluster.launch_overhead[placement]
  duration = jnp.maximum(jax.ops.segment_sum(compute, root, num_segments=num_nodes),
                         jnp.maximum(traffic, 0.0) / bandwidth) + launch
  duration = jnp.where(is_root, jnp.where(measured >= 0, measured, duration), 0.0)
  node_time = jnp.where(measured >= 0, measured,
                        jnp.maximum(compute, g.bytes_accessed / bandwidth) + launch)  # unfused

  # Copies: external edges whose consumer kernel is on another device.
  external = edge_mask & (root[senders] != root[receivers])
  consumer_kernel = root[receivers]
  destination = placement[receivers]
  cross = external & (placement[senders] != destination)
  copy_slot = destination * num_nodes + senders  # flat (D, Np) index
  need = jnp.zeros(num_devices * num_nodes, bool).at[copy_slot].max(cross).reshape(num_devices, num_nodes)
  source = placement[None, :]
  target = jnp.arange(num_devices)[:, None]
  copy_time = jnp.where(g.transfer_time[None, :] >= 0, g.transfer_time[None, :].astype(dtype),
                        cluster.link_latency[source, target]
                        + g.copy_bytes[None, :] / cluster.link_bandwidth[source, target])  # (D, Np)
  return Kernels(placement, key, fused, root, is_root, duration, node_time, external, consumer_kernel,
                 destination, cross, copy_slot, need, copy_time)


def result(g: types.SimGraph, cluster: cluster_lib.Cluster, k: Kernels, start, finish, copy_start,
           copy_finish, count) -> types.SimResult:
  """Memory sweep and the :class:`~simulator.types.SimResult` from the schedule (step 5).

  Args:
    g: the padded graph.
    cluster: the cluster.
    k: the kernels.
    start: (Np,) kernel start times (s; read at kernels only).
    finish: (Np,) kernel finish times (s; read at kernels only).
    copy_start: (D, Np) copy start times (s; read where ``k.need``).
    copy_finish: (D, Np) copy end times (s; read where ``k.need``).
    count: () int32 reported as ``num_iterations``.
  """
  num_nodes = g.node_mask.shape[0]
  num_devices = cluster.peak_flops.shape[0]
  dtype = cluster.peak_flops.dtype
  mask = g.node_mask
  senders = g.senders
  placement, is_root, need = k.placement, k.is_root, k.need
  neg_inf = jnp.asarray(-jnp.inf, dtype)
  local = k.external & ~k.cross
  out_free = jnp.maximum(finish, jax.ops.segment_max(jnp.where(local, finish[k.consumer_kernel], neg_inf),
                                                     senders, num_segments=num_nodes))
  out_free = jnp.maximum(out_free, jnp.where(need, copy_finish, neg_inf).max(axis=0))
  copy_free = jnp.maximum(copy_finish, jax.ops.segment_max(
      jnp.where(k.cross, finish[k.consumer_kernel], neg_inf), k.copy_slot,
      num_segments=num_devices * num_nodes).reshape(num_devices, num_nodes))
  alloc = jnp.concatenate([start, copy_start.reshape(-1)])
  free = jnp.concatenate([out_free, copy_free.reshape(-1)])
  size = jnp.concatenate([g.output_bytes.astype(dtype), jnp.tile(g.copy_bytes.astype(dtype), num_devices)])
  device = jnp.concatenate([placement, jnp.repeat(jnp.arange(num_devices, dtype=jnp.int32), num_nodes)])
  valid = jnp.concatenate([is_root, need.reshape(-1)]) & (free > alloc)
  device = jnp.where(valid, device, num_devices)
  event_device = jnp.concatenate([device, device])
  event_time = jnp.concatenate([alloc, free])
  event_kind = jnp.concatenate([jnp.ones_like(device), jnp.zeros_like(device)])  # frees (0) first
  event_delta = jnp.concatenate([jnp.where(valid, size, 0.0), jnp.where(valid, -size, 0.0)])
  event_device, _, _, event_delta = lax.sort((event_device, event_time, event_kind, event_delta), num_keys=3)
  live = jnp.cumsum(event_delta)
  first_event = jnp.searchsorted(event_device, jnp.arange(num_devices + 1))
  base = jnp.where(first_event > 0, live[jnp.maximum(first_event - 1, 0)], 0.0)  # live before a segment
  peak_live = jax.ops.segment_max(live - base[event_device], event_device, num_segments=num_devices + 1)
  params = jax.ops.segment_sum(jnp.where(mask, g.param_bytes.astype(dtype), 0.0), placement,
                               num_segments=num_devices)
  peak = params + jnp.maximum(peak_live[:num_devices], 0.0)

  return types.SimResult(
      step_time=jnp.where(is_root, finish, 0.0).max(),
      busy_time=jax.ops.segment_sum(k.duration, placement, num_segments=num_devices),
      peak_memory=peak,
      oom=peak > cluster.mem_capacity,
      bytes_moved=jnp.where(need, g.copy_bytes[None, :].astype(dtype), 0.0).sum(),
      max_load=max_load(g, cluster, placement, k.node_time, need, k.copy_time),
      num_iterations=count,
  )


def simulate_one(g: types.SimGraph, cluster: cluster_lib.Cluster, decisions: types.Decisions,
                 num_iterations: int | None = None) -> types.SimResult:
  """Fixed-point engine: simulates one padded graph under one decision set (no batch axes; wrap with vmap).

  Args:
    g: the padded graph (:func:`simulator.types.to_sim_graph`), Np nodes, Ep edges.
    cluster: the cluster with array leaves (D devices).
    decisions: (Np,) placement (int), priority (float), fusion (bool).
    num_iterations: ``None``: iterate the schedule until it is exact (a
      ``while_loop``, forward-mode only). An int: exactly that many rounds (a
      ``fori_loop``, reverse-mode differentiable); exact when it is at least
      ``result.num_iterations`` of a ``None`` run.

  Returns:
    A :class:`~simulator.types.SimResult` of scalars and (D,) arrays.
  """
  num_nodes = g.node_mask.shape[0]
  num_devices = cluster.peak_flops.shape[0]
  dtype = cluster.peak_flops.dtype
  index = jnp.arange(num_nodes)
  k = kernels(g, cluster, decisions)
  placement, key, is_root, duration = k.placement, k.key, k.is_root, k.duration
  need, cross, external = k.need, k.cross, k.external
  senders, destination, consumer_kernel = g.senders, k.destination, k.consumer_kernel

  # 3. One order: kernels by (device, key, index); non-kernels in a last segment.
  slot = jnp.where(is_root, placement, num_devices)
  _, _, order = lax.sort((slot, key, index), num_keys=3)
  sorted_slot = slot[order]
  segment_start = jnp.concatenate([jnp.ones(1, bool), sorted_slot[1:] != sorted_slot[:-1]])
  duration_s = duration[order]
  need_s = need[:, order]
  copy_s = jnp.where(need_s, k.copy_time[:, order], 0.0)
  link_start = jnp.broadcast_to(segment_start, need_s.shape)
  neg_inf = jnp.asarray(-jnp.inf, dtype)

  def schedule(finish):
    """One round: copies from current finishes, then ready times, then device scans."""
    link_value = _maxplus_scan(copy_s, jnp.where(need_s, finish[order][None, :] + copy_s, neg_inf),
                               link_start)  # (D, Np) sorted
    copy_finish = jnp.zeros((num_devices, num_nodes), dtype).at[:, order].set(link_value)
    arrival = jnp.where(cross, copy_finish[destination, senders], finish[senders])
    ready = jnp.maximum(jax.ops.segment_max(jnp.where(external, arrival, neg_inf), consumer_kernel,
                                            num_segments=num_nodes), 0.0)
    device_value = _maxplus_scan(duration_s, ready[order] + duration_s, segment_start)
    new_finish = jnp.zeros(num_nodes, dtype).at[order].set(device_value)
    return new_finish, (link_value, copy_finish, ready, device_value)

  zeros = jnp.zeros(num_nodes, dtype)
  if num_iterations is None:
    def cond(state):
      return state[2]

    def body(state):
      finish, count, _ = state
      new_finish, _ = schedule(finish)
      return new_finish, count + 1, jnp.any(new_finish != finish) & (count < 2 * num_nodes + 2)

    finish, count, _ = lax.while_loop(cond, body, (zeros, jnp.int32(0), jnp.array(True)))
  else:
    finish = lax.fori_loop(0, num_iterations, lambda _, f: schedule(f)[0], zeros)
    count = jnp.int32(num_iterations)
  finish, (link_value, copy_finish, ready, device_value) = schedule(finish)

  # 5. Memory.
  start = jnp.zeros(num_nodes, dtype).at[order].set(
      jnp.maximum(_shift_right(device_value, segment_start), ready[order]))
  copy_start = jnp.zeros((num_devices, num_nodes), dtype).at[:, order].set(
      jnp.maximum(_shift_right(link_value, link_start), finish[order][None, :]))
  return result(g, cluster, k, start, finish, copy_start, copy_finish, count)


def default_engine() -> str:
  """``"scan"`` on CPU, ``"fixed_point"`` on accelerators."""
  return "scan" if jax.default_backend() == "cpu" else "fixed_point"


def _engine(engine: str | None, num_iterations: int | None) -> str:
  if engine is None:
    return "fixed_point" if num_iterations is not None else default_engine()
  if engine not in ENGINES:
    raise ValueError(f"unknown engine {engine!r} (use one of {ENGINES})")
  if engine == "scan" and num_iterations is not None:
    raise ValueError("num_iterations applies to the fixed_point engine only")
  return engine


@functools.partial(jax.jit, static_argnames=("num_iterations", "engine"))
def simulate(g: types.SimGraph, cluster: cluster_lib.Cluster, decisions: types.Decisions,
             num_iterations: int | None = None, engine: str | None = None) -> types.SimResult:
  """Simulates one graph under one decision set (jitted).

  Args:
    g: the padded graph.
    cluster: the cluster.
    decisions: (Np,) decisions.
    num_iterations: fixed-point engine only, see :func:`simulate_one`.
    engine: ``"scan"``, ``"fixed_point"`` or ``None``: :func:`default_engine`, or
      ``"fixed_point"`` when ``num_iterations`` is given. Both are exact; the scan
      engine reports ``num_iterations`` 0 and is forward-only.
  """
  if _engine(engine, num_iterations) == "scan":
    out = scan_engine.simulate_batch(g, cluster, jax.tree.map(lambda x: x[None], decisions))
    return jax.tree.map(lambda x: x[0], out)
  return simulate_one(g, cluster, decisions, num_iterations)


@functools.partial(jax.jit, static_argnames=("batched_graphs", "num_iterations", "engine", "num_shards"))
def simulate_batch(g: types.SimGraph, cluster: cluster_lib.Cluster, decisions: types.Decisions,
                   batched_graphs: bool = False, num_iterations: int | None = None,
                   engine: str | None = None, num_shards: int = 1) -> types.SimResult:
  """Simulates a batch of decision sets (and optionally of same-bucket padded graphs).

  Args:
    g: one padded graph, or, with ``batched_graphs``, a stack of them ((B, Np) leaves).
    cluster: the cluster (shared by the batch).
    decisions: (B, Np) decisions.
    batched_graphs: whether ``g`` carries the batch axis too.
    num_iterations: fixed-point engine only, see :func:`simulate_one`.
    engine: see :func:`simulate`.
    num_shards: split the batch over the first ``num_shards`` local devices
      (``jax.shard_map``, data parallel: evaluations are independent). On a
      multi-core CPU run with ``XLA_FLAGS=--xla_force_host_platform_device_count=C``
      to use C cores. ``B`` must be a multiple of ``num_shards``.

  Returns:
    A :class:`~simulator.types.SimResult` with a leading (B,) axis.
  """
  def run_batch(g, decisions):
    if _engine(engine, num_iterations) == "scan":
      return scan_engine.simulate_batch(g, cluster, decisions, batched_graphs)
    run = functools.partial(simulate_one, num_iterations=num_iterations)
    return jax.vmap(run, in_axes=(0 if batched_graphs else None, None, 0))(g, cluster, decisions)

  if num_shards == 1:
    return run_batch(g, decisions)
  batch = decisions.placement.shape[0]
  if num_shards < 1 or batch % num_shards or num_shards > jax.local_device_count():
    raise ValueError(f"num_shards={num_shards} must divide the batch ({batch}) and be at most the "
                     f"{jax.local_device_count()} local devices")
  mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()[:num_shards]), ("batch",))
  spec = jax.sharding.PartitionSpec("batch")
  graph_spec = spec if batched_graphs else jax.sharding.PartitionSpec()
  return jax.shard_map(run_batch, mesh=mesh, in_specs=(graph_spec, spec), out_specs=spec,
                       check_vma=False)(g, decisions)


def prepare(graph, cluster: cluster_lib.Cluster, num_nodes: int | None = None,
            num_edges: int | None = None) -> tuple[types.SimGraph, cluster_lib.Cluster]:
  """Pads a ComputationGraph and converts the cluster to jax arrays (float32, float64 under x64)."""
  dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
  g = types.to_sim_graph(graph, cluster.device_kinds, num_nodes, num_edges, dtype=dtype)
  return jax.tree.map(jnp.asarray, g), cluster_lib.as_jax(cluster, dtype)
