"""The scan engine: an exact sequential simulation in key order, built for CPU throughput.

Same inputs, outputs and semantics as :mod:`simulator.vectorized` (the
fixed-point engine); see ``simulator/README.md``. For a batch of decision sets:

1. **Graph plan** (once per graph, shared by the batch): a topological order
   (node ids when every edge goes from a lower to a higher id, else by levels),
   and every node's in-edges cut into *rows* of ``K`` edge slots
   (``max(1, ceil(indegree / K))`` rows per real node, 0 for padding).
2. **Keys and fusion legality**: one sequential pass over the rows in
   topological order: ``key[v] = max(key[producers]) + delta(priority[v])`` and,
   for the fusion rule, the first candidate producer whose kernel holds a
   contraction (``has_contraction[v] = contraction(v) or such a producer exists``).
3. **Kernels** (roots, durations, copies): :func:`simulator.vectorized.kernels`.
4. **Schedule**: nodes sorted by ``(key[root], root, member before root)``, so a
   kernel's members immediately precede its root and every producer precedes
   its consumers. One sequential pass over the rows in that order: edge slots
   take the running max of their inputs' arrival on the kernel's device (the
   producer's finish, or the end of its copy to that device); at a root, the
   kernel starts at ``max(device free, ready)``, ends after its duration, and
   immediately schedules its outgoing copies on the links
   ``(device, d)`` for every destination d that needs one
   (``start = max(finish, link free)``). Producers are visited in ascending
   ``(key, index)``, so every device and every link serves its queue in that
   order, exactly the in-order semantics.
5. **Memory and results**: :func:`simulator.vectorized.result`.

Both sequential passes carry the whole batch (explicit batch axis, one
``fori_loop`` whose trip count is the graph's row count, unrolled ``UNROLL``
times) and update the carried (B * Np * W) record in place with one scatter
per row. Sequential steps per evaluation: about ``2 * (N + E / K)``.
Forward-only (no gradients: use the fixed-point engine for ``jax.grad``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from simulator import cluster as cluster_lib
from simulator import types
from simulator import vectorized

#: Edge slots per row of a sequential pass.
EDGE_SLOTS = 4
#: Rows per loop iteration (manual unroll).
UNROLL = 4


class Layout(NamedTuple):
  """Rows of one sequential pass (L = Np + Ep // K + UNROLL rows, K edge slots).

  Attributes:
    node: (L,) int32 node of each row (``Np - 1``, a padding node, past the end).
    first: (L,) bool, first row of its node (past the end: True).
    last: (L,) bool, last row of its node.
    edge: (L, K) int32 edge id in each slot, -1 if empty.
    num_rows: () int32 rows in use.
  """

  node: Any  # (L,) int32
  first: Any  # (L,) bool
  last: Any  # (L,) bool
  edge: Any  # (L, K) int32
  num_rows: Any  # () int32


class Plan(NamedTuple):
  """Per-graph structure (no decisions).

  Attributes:
    steps: (Np,) int32 rows per node (0 for padding).
    edge_local: (Ep,) int32 index of each edge among its receiver's in-edges.
    topological: Layout of the key pass (nodes in topological order).
  """

  steps: Any  # (Np,) int32
  edge_local: Any  # (Ep,) int32
  topological: Layout


def _num_rows(g: types.SimGraph) -> int:
  return g.node_mask.shape[-1] + g.senders.shape[-1] // EDGE_SLOTS + UNROLL


def _layout(g: types.SimGraph, order, steps, edge_local) -> Layout:
  """Rows for processing nodes in ``order`` ((Np,) permutation), ``steps`` rows each."""
  num_nodes = g.node_mask.shape[0]
  num_rows = _num_rows(g)
  k = EDGE_SLOTS
  sorted_steps = steps[order]
  start_sorted = jnp.cumsum(sorted_steps) - sorted_steps
  start = jnp.zeros(num_nodes, jnp.int32).at[order].set(start_sorted)
  total = sorted_steps.sum()
  present = sorted_steps > 0
  rows = jnp.arange(num_rows)
  marker = jnp.zeros(num_rows, jnp.int32).at[jnp.where(present, start_sorted, num_rows)].max(
      jnp.arange(1, num_nodes + 1, dtype=jnp.int32), mode="drop")
  owner = lax.cummax(marker)
  in_use = rows < total
  node = jnp.where(in_use & (owner > 0), order[jnp.maximum(owner - 1, 0)], num_nodes - 1)
  first = (marker > 0) | ~in_use
  last = jnp.zeros(num_rows, bool).at[jnp.where(present, start_sorted + sorted_steps - 1, num_rows)].set(
      True, mode="drop")
  edge_row = start[g.receivers] + edge_local // k
  slot = jnp.where(g.edge_mask, edge_row * k + edge_local % k, num_rows * k)
  edge = jnp.full(num_rows * k, -1, jnp.int32).at[slot].set(
      jnp.arange(g.senders.shape[0], dtype=jnp.int32), mode="drop").reshape(num_rows, k)
  return Layout(node, first, last, edge, total.astype(jnp.int32))


def graph_plan(g: types.SimGraph) -> Plan:
  """The :class:`Plan` of one padded graph (no batch axes)."""
  num_nodes, num_edges = g.node_mask.shape[0], g.senders.shape[0]
  index = jnp.arange(num_nodes, dtype=jnp.int32)
  indegree = jax.ops.segment_sum(g.edge_mask.astype(jnp.int32), g.receivers, num_segments=num_nodes)
  steps = jnp.where(g.node_mask, jnp.maximum(1, -(-indegree // EDGE_SLOTS)), 0).astype(jnp.int32)
  receiver_key = jnp.where(g.edge_mask, g.receivers, num_nodes)
  sorted_receiver, edge_order = lax.sort((receiver_key, jnp.arange(num_edges, dtype=jnp.int32)), num_keys=2)
  row_start = jnp.searchsorted(sorted_receiver, sorted_receiver, side="left")
  edge_local = jnp.zeros(num_edges, jnp.int32).at[edge_order].set(
      jnp.arange(num_edges, dtype=jnp.int32) - row_start.astype(jnp.int32))

  def by_levels(_):
    def body(state):
      level, _ = state
      new = jnp.maximum(jax.ops.segment_max(jnp.where(g.edge_mask, level[g.senders] + 1, 0), g.receivers,
                                            num_segments=num_nodes), 0)
      return new, jnp.any(new != level)
    level, _ = lax.while_loop(lambda s: s[1], body, (jnp.zeros(num_nodes, jnp.int32), jnp.array(True)))
    return lax.sort((jnp.where(g.node_mask, level, num_nodes), index), num_keys=2)[1]

  ordered_ids = jnp.all(~g.edge_mask | (g.senders < g.receivers))
  topological = lax.cond(ordered_ids, lambda _: index, by_levels, None)
  return Plan(steps, edge_local, _layout(g, topological, steps, edge_local))


def _row(arr, t):
  return lax.dynamic_index_in_dim(arr, t, 0, keepdims=False)


def _run_rows(step, carry, num_rows):
  """``carry = step(t, carry)`` for t in [0, num_rows), ``UNROLL`` rows per iteration."""
  def body(i, c):
    for u in range(UNROLL):
      c = step(i * UNROLL + u, c)
    return c
  return lax.fori_loop(0, (num_rows + UNROLL - 1) // UNROLL, body, carry)


def _key_pass(layout: Layout, senders, delta, candidate, is_contraction, num_nodes):
  """Keys (B, Np), has_contraction (B, Np), first contraction-carrying candidate (B, Np).

  ``layout`` and ``senders`` have a leading axis of 1 (shared graph) or B;
  ``delta`` (B, Np) (0 on padding), ``candidate``/``is_contraction`` (B, Np) bool.
  """
  batch = delta.shape[0]
  # Node-major carries ((Np * B,), element (v, b) at v * B + b): with a shared graph every row
  # reads and writes contiguous runs of B values.
  lane = jnp.arange(batch, dtype=jnp.int32)[:, None]  # (B, 1)
  take = lambda x, idx: jnp.take_along_axis(x, jnp.broadcast_to(idx, (batch,) + idx.shape[1:]), axis=1)  # noqa: E731
  src = jnp.where(layout.edge >= 0, take(senders, jnp.maximum(layout.edge, 0).reshape(layout.edge.shape[0], -1)
                                         ).reshape(batch, *layout.edge.shape[1:]), num_nodes - 1)
  node = jnp.broadcast_to(layout.node, (batch, layout.node.shape[1]))  # (B, L)
  # Time-major rows.
  src_t = jnp.swapaxes(src, 0, 1)  # (L, B, K)
  node_t = node.T  # (L, B)
  first_t = jnp.broadcast_to(layout.first, node.shape).T
  delta_t = jnp.take_along_axis(delta, node, axis=1).T
  cand_t = jnp.take_along_axis(candidate, node, axis=1).T
  contraction_t = jnp.take_along_axis(is_contraction, node, axis=1).T

  def step(t, carry):
    key, first, carries, run_key, run_first = carry
    s = _row(src_t, t)  # (B, K)
    idx = s * batch + lane
    ks = key[idx].max(axis=-1)
    cs = jnp.where(carries[idx], s, num_nodes).min(axis=-1)
    new = _row(first_t, t)
    run_key = jnp.where(new, ks, jnp.maximum(run_key, ks))
    run_first = jnp.where(new, cs, jnp.minimum(run_first, cs))
    target = _row(node_t, t) * batch + lane[:, 0]
    has = _row(contraction_t, t) | (run_first < num_nodes)
    key = key.at[target].set(run_key + _row(delta_t, t), unique_indices=True)
    first = first.at[target].set(run_first, unique_indices=True)
    carries = carries.at[target].set(_row(cand_t, t) & has, unique_indices=True)
    return key, first, carries, run_key, run_first

  init = (delta.T.reshape(-1), jnp.full(batch * num_nodes, num_nodes, jnp.int32),
          (candidate & is_contraction).T.reshape(-1), jnp.zeros(batch, delta.dtype),
          jnp.full(batch, num_nodes, jnp.int32))
  key, first, _, _, _ = _run_rows(step, init, layout.num_rows.max())
  key, first = key.reshape(num_nodes, batch).T, first.reshape(num_nodes, batch).T
  return key, is_contraction | (first < num_nodes), first


def _uint_bits(x):
  """Order-preserving unsigned bits of non-negative floats (uint32, or uint64 under x64)."""
  return lax.bitcast_convert_type(x, jnp.uint64 if x.dtype == jnp.float64 else jnp.uint32)


def _argsort_ties_by_index(primary):
  """(Np,) permutation sorting by ``(primary, index)`` (``primary``: unsigned ints).

  Single-operand sorts are much faster than multi-operand ones on CPU: rank the
  primary keys (ties share the rank of their first), then sort
  ``rank * Np + index`` (fits uint32 for Np <= 65536).
  """
  num = primary.shape[0]
  index = jnp.arange(num, dtype=jnp.int32)
  if num > 65536 and primary.dtype != jnp.uint64:
    return lax.sort((primary, index), num_keys=2)[1]
  rank = jnp.searchsorted(lax.sort(primary), primary, side="left").astype(primary.dtype)
  return (lax.sort(rank * num + index.astype(primary.dtype)) % num).astype(jnp.int32)


def _schedule_rows(g: types.SimGraph, plan: Plan, k: vectorized.Kernels):
  """Per-decision rows of the schedule pass (no batch axes); nodes in ``(key, index)`` order.

  Returns:
    (gather (L, K + 1) int32 index into the flat (Np, W) record, target (L,)
    int32 record row written, kernel (L,) bool, member (L,) bool (last row of
    a fused member), device (L,) int32, duration (L,) s, need (L, D) bool,
    copy_time (L, D) s, num_rows ()).
  """
  num_nodes = g.node_mask.shape[0]
  num_devices = k.need.shape[0]
  width = 3 + 2 * num_devices
  sentinel = num_nodes - 1  # the last node is padding: its record stays 0
  key = jnp.where(g.node_mask, k.key, jnp.inf)
  order = _argsort_ties_by_index(_uint_bits(key))
  layout = _layout(g, order, plan.steps, plan.edge_local)
  edge = jnp.maximum(layout.edge, 0)
  source = g.senders[edge] * width + jnp.where(k.cross[edge], 3 + k.destination[edge], 1)
  edges = jnp.where((layout.edge >= 0) & k.external[edge], source, sentinel * width + 1)
  node = layout.node
  kernel = layout.last & k.is_root[node]
  member = layout.last & k.fused[node]
  pending = jnp.where(member, k.root[node], node) * width + 2
  gather = jnp.concatenate([edges, pending[:, None]], axis=1)
  target = jnp.where(kernel, node, jnp.where(member, k.root[node], sentinel))
  need = k.need[:, node].T & kernel[:, None]
  return (gather, target, kernel, member, k.placement[node], k.duration[node], need,
          k.copy_time[:, node].T, layout.num_rows)


def _schedule_pass(rows, num_devices, num_nodes, dtype):
  """Sequential schedule over rows (leading batch axis B); returns the (B, Np, W) record.

  Record row of a kernel: ``[start, finish, pending, copy_end (D), copy_start (D)]``
  seconds; ``pending`` is the ready time its fused members pass on.
  """
  gather, target, kernel, member, device, duration, need, copy_time, num_rows = rows
  batch = target.shape[0]
  width = 3 + 2 * num_devices
  offset = jnp.arange(batch, dtype=jnp.int32) * (num_nodes * width)  # (B,)
  time_major = [jnp.swapaxes(x, 0, 1) for x in (gather, target, kernel, member, device, duration, need,
                                                copy_time)]
  gather_t, target_t, kernel_t, member_t, device_t, duration_t, need_t, copy_t = time_major
  devices = jnp.arange(num_devices, dtype=jnp.int32)
  columns = jnp.arange(width, dtype=jnp.int32)
  neg_inf = jnp.asarray(-jnp.inf, dtype)
  zero = jnp.zeros((batch, 1), dtype)

  def step(t, carry):
    record, device_free, link_free, ready = carry
    arrival = record[offset[:, None] + _row(gather_t, t)]  # (B, K + 1)
    ready = jnp.maximum(ready, arrival.max(axis=-1))
    is_kernel, is_member = _row(kernel_t, t), _row(member_t, t)
    onehot = _row(device_t, t)[:, None] == devices  # (B, D)
    start = jnp.maximum(jnp.where(onehot, device_free, 0.0).max(axis=-1), ready)
    finish = start + _row(duration_t, t)
    device_free = jnp.where(onehot & is_kernel[:, None], finish[:, None], device_free)
    link_row = jnp.where(onehot[:, :, None], link_free, neg_inf).max(axis=1)  # (B, D) links from the device
    copy_start = jnp.maximum(finish[:, None], link_row)
    copy_end = copy_start + _row(copy_t, t)
    need = _row(need_t, t)
    link_free = jnp.where(onehot[:, :, None] & need[:, None, :], copy_end[:, None, :], link_free)
    values = jnp.concatenate([start[:, None], finish[:, None], zero, copy_end, copy_start], axis=-1)
    values = jnp.where(is_kernel[:, None], values, 0.0)
    values = jnp.where(is_member[:, None] & (columns == 2), ready[:, None], values)
    record = record.at[(offset + _row(target_t, t) * width)[:, None] + columns].set(values, unique_indices=True)
    ready = jnp.where(is_kernel | is_member, 0.0, ready)
    return record, device_free, link_free, ready

  init = (jnp.zeros(batch * num_nodes * width, dtype), jnp.zeros((batch, num_devices), dtype),
          jnp.zeros((batch, num_devices, num_devices), dtype), jnp.zeros(batch, dtype))
  record, _, _, _ = _run_rows(step, init, num_rows.max())
  return record.reshape(batch, num_nodes, width)


def _peak_memory(g: types.SimGraph, cluster: cluster_lib.Cluster, k: vectorized.Kernels, start, finish,
                 copy_start, copy_finish):
  """(D,) peak memory (bytes), same rule as :func:`simulator.vectorized.result`, without a payload sort.

  Copies are compacted to ``min(D * Np, Ep)`` slots; events are keyed by
  ``(time, free-before-alloc)`` in one unsigned key; a single-operand sort and a
  ``searchsorted`` give each event its rank (ties share one, which leaves every
  prefix maximum unchanged), and a per-device cumulative sum of the deltas
  scattered to those ranks gives live memory.
  """
  num_nodes = g.node_mask.shape[0]
  num_devices = cluster.peak_flops.shape[0]
  dtype = cluster.peak_flops.dtype
  neg_inf = jnp.asarray(-jnp.inf, dtype)
  placement, need = k.placement, k.need
  local = k.external & ~k.cross
  out_free = jnp.maximum(finish, jax.ops.segment_max(jnp.where(local, finish[k.consumer_kernel], neg_inf),
                                                     g.senders, num_segments=num_nodes))
  out_free = jnp.maximum(out_free, jnp.where(need, copy_finish, neg_inf).max(axis=0))
  copy_free = jnp.maximum(copy_finish, jax.ops.segment_max(
      jnp.where(k.cross, finish[k.consumer_kernel], neg_inf), k.copy_slot,
      num_segments=num_devices * num_nodes).reshape(num_devices, num_nodes))
  capacity = min(num_devices * num_nodes, g.senders.shape[0])
  flat_need = need.reshape(-1)
  slot = jnp.where(flat_need, jnp.cumsum(flat_need) - 1, capacity)
  compact = lambda x, fill: jnp.full(capacity, fill, x.dtype).at[slot].set(x.reshape(-1), mode="drop")  # noqa: E731
  copy_device = jnp.repeat(jnp.arange(num_devices, dtype=jnp.int32), num_nodes)
  alloc = jnp.concatenate([start, compact(copy_start, 0.0)])
  free = jnp.concatenate([out_free, compact(copy_free, 0.0)])
  size = jnp.concatenate([g.output_bytes.astype(dtype), compact(jnp.tile(g.copy_bytes.astype(dtype), num_devices),
                                                                0.0)])
  device = jnp.concatenate([placement, compact(copy_device, 0)])
  valid = jnp.concatenate([k.is_root, compact(flat_need, False)]) & (free > alloc)
  alloc_bits, free_bits = _uint_bits(alloc), _uint_bits(free)
  largest = jnp.asarray(jnp.iinfo(alloc_bits.dtype).max, alloc_bits.dtype)
  event_key = jnp.concatenate([jnp.where(valid, alloc_bits * 2 + 1, largest),
                               jnp.where(valid, free_bits * 2, largest)])  # frees (0) first
  rank = jnp.searchsorted(lax.sort(event_key), event_key, side="left")
  event_delta = jnp.concatenate([jnp.where(valid, size, 0.0), jnp.where(valid, -size, 0.0)])
  table = jnp.zeros((event_key.shape[0], num_devices), dtype).at[rank, jnp.concatenate([device, device])].add(
      event_delta)
  peak_live = jnp.cumsum(table, axis=0).max(axis=0)
  params = jax.ops.segment_sum(jnp.where(g.node_mask, g.param_bytes.astype(dtype), 0.0), placement,
                               num_segments=num_devices)
  return params + jnp.maximum(peak_live, 0.0)


def simulate_batch(g: types.SimGraph, cluster: cluster_lib.Cluster, decisions: types.Decisions,
                   batched_graphs: bool = False) -> types.SimResult:
  """Scan engine on a batch (not jitted: use :func:`simulator.vectorized.simulate_batch` with
  ``engine="scan"``).

  Args:
    g: one padded graph, or, with ``batched_graphs``, a stack of them ((B, Np) leaves).
    cluster: the cluster (shared by the batch).
    decisions: (B, Np) decisions.
    batched_graphs: whether ``g`` carries the batch axis too.

  Returns:
    A :class:`~simulator.types.SimResult` with a leading (B,) axis (``num_iterations``: 0).
  """
  num_nodes = g.node_mask.shape[-1]
  num_devices = cluster.peak_flops.shape[0]
  dtype = cluster.peak_flops.dtype
  graph_axis = 0 if batched_graphs else None
  plan = jax.vmap(graph_plan)(g) if batched_graphs else jax.tree.map(lambda x: x[None], graph_plan(g))
  senders = g.senders if batched_graphs else g.senders[None]

  def inputs(gi, d):
    placement, _, candidate, is_contraction = vectorized.fusion_inputs(gi, cluster, d)
    del placement
    delta = jnp.where(gi.node_mask, types.priority_delta(d.priority.astype(dtype), jnp), 0.0)
    return delta, candidate, is_contraction

  delta, candidate, is_contraction = jax.vmap(inputs, in_axes=(graph_axis, 0))(g, decisions)
  key, has_contraction, first = _key_pass(plan.topological, senders, delta, candidate, is_contraction,
                                          num_nodes)

  def kernel_rows(gi, pl, d, ki, hi, fi):
    kern = vectorized.kernels(gi, cluster, d, keys_and_fusion=lambda *_: (ki, hi, fi))
    return kern, _schedule_rows(gi, pl, kern)

  plan_axis = 0 if batched_graphs else None
  plan_one = plan if batched_graphs else jax.tree.map(lambda x: x[0], plan)
  kern, rows = jax.vmap(kernel_rows, in_axes=(graph_axis, plan_axis, 0, 0, 0, 0))(
      g, plan_one, decisions, key, has_contraction, first)
  record = _schedule_pass(rows, num_devices, num_nodes, dtype)

  def finish_one(gi, ki, rec):
    start, finish = rec[:, 0], rec[:, 1]
    copy_finish, copy_start = rec[:, 3:3 + num_devices].T, rec[:, 3 + num_devices:].T
    peak = _peak_memory(gi, cluster, ki, start, finish, copy_start, copy_finish)
    return types.SimResult(
        step_time=jnp.where(ki.is_root, finish, 0.0).max(),
        busy_time=jax.ops.segment_sum(ki.duration, ki.placement, num_segments=num_devices),
        peak_memory=peak,
        oom=peak > cluster.mem_capacity,
        bytes_moved=jnp.where(ki.need, gi.copy_bytes[None, :].astype(dtype), 0.0).sum(),
        max_load=vectorized.max_load(gi, cluster, ki.placement, ki.node_time, ki.need, ki.copy_time),
        num_iterations=jnp.int32(0))

  return jax.vmap(finish_one, in_axes=(graph_axis, 0, 0))(g, kern, record)
