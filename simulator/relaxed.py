"""A relaxed (differentiable) step time over soft placement probabilities.

The exact simulators (``simulator/README.md``) map a hard placement to a step
time that is piecewise constant in the placement. This module relaxes that
map so that gradients with respect to per-node device probabilities exist,
while staying *the same recursion*: at one-hot probabilities it is the exact
in-order schedule with every ``max`` replaced by a smooth maximum, and as the
smoothing temperature goes to 0 it tends to the exact step time.

**What is relaxed.** Inputs are placement probabilities ``P`` (N, D) (rows
on the simplex) and a smooth-max temperature ``T`` (seconds, > 0). Fusion is
off (every node is its own kernel, as in the search baselines); priorities
are fixed when the plan is built (:func:`relaxed_plan`). Keys depend only on
priorities, so the total order ``(key, index)`` in which every device and
every link serves its queue is the same for every placement: the relaxation
visits nodes once, in that order (a ``lax.scan`` with a fixed trip count,
reverse-mode differentiable), carrying

* ``device_free`` (D,) s: when each device's stream is free;
* ``link_free`` (D, D) s: when each directed link is free;
* ``arrival`` (N, D) s: when each visited node's output is present on each device.

At node v, for every device d *as if v ran there* (``t_v[d]`` its unfused
duration, measured or roofline + launch, as in the exact simulators):

* ``finish[d] = smax_T(device_free[d], arrival[u, d] for producers u) + t_v[d]``;
* for every other device d', the copy v -> d' from d ends at
  ``copy_end[d, d'] = smax_T(finish[d], link_free[d, d']) + c_v[d, d']``
  (``c`` = measured transfer time, else ``latency + bytes / bandwidth``);
* ``arrival[v, d'] = P[v, d'] finish[d'] + sum_{d != d'} P[v, d] copy_end[d, d']``;
* ``device_free[d] += P[v, d] (finish[d] - device_free[d])``;
* ``link_free[d, d'] += P[v, d] Q[v, d'] (copy_end[d, d'] - link_free[d, d'])``,
  where ``Q[v, d'] = 1 - prod_{consumers c} (1 - P[c, d'])`` is the
  probability that some consumer of v is on d' (a copy is made once per
  destination device).

``smax_T(x) = T * log(sum_i exp(x_i / T))`` (``logsumexp``), so
``max(x) <= smax_T(x) <= max(x) + T log(len(x))``. The relaxed step time is
``smax_T`` over the nodes' expected finishes ``sum_d P[v, d] finish_v[d]``.

**What is exact.** At one-hot ``P`` every expectation selects the single
placed device and ``Q`` is exactly "some consumer is on d'", so the recursion
is the scan engine's schedule (:mod:`simulator.scan_engine`) with ``max``
replaced by ``smax_T``: stream order, once-per-destination copies, link
contention in ascending producer key, latency + bytes / bandwidth, measured
times. Every operation is nondecreasing in its inputs and ``smax_T`` is
nondecreasing in ``T``, so the relaxed step time decreases monotonically to
the exact one as ``T -> 0``, with error at most ``T * (log N + sum over the
critical chain of log(fan-in + 1), plus log 2 per copy)``
(``tests/simulator/test_relaxed.py`` checks 1e-5 relative against
:func:`simulator.reference.simulate_reference` in float64).

**What is approximate.** Between vertices of the simplex the relaxation is a
mean-field one: placements of different nodes are treated as independent and
a device's or link's free time is the probability-weighted mix of "this node
ran here" and "it did not", not the expectation of the exact step time.
Memory is not modelled (see :mod:`go_jax.baselines.search` for the memory
penalty the gradient baseline adds).

**Cost.** One scan step per row of ``K = EDGE_SLOTS`` producer slots
(about ``N + E / K`` rows), each O(K D + D^2) work, forward and backward. The
reverse pass is written by hand (:func:`_scan_rows`, a ``jax.custom_vjp``):
JAX's own transpose of the scan rebuilt the (N+1, D) arrival cotangent every
row, O(N) per row and O(N^2) in all (64k nodes on 8 devices: 23 s for one value
and gradient, against 0.2 s now; ``python -m experiments.bench_relaxed``). The
hand-written pass runs each row's VJP on its saved inputs and keeps the arrival
cotangent as one carry updated in place; ``tests/simulator/test_relaxed.py``
checks it against JAX's autodiff of the same scan (:func:`_scan_rows_autodiff`).
Per-row finishes leave the scan as outputs rather than a second carried (N, D)
table.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import objectives
from simulator import reference
from simulator import types

#: Producer slots per scan row (a node with in-degree k takes max(1, ceil(k / EDGE_SLOTS)) rows).
EDGE_SLOTS = 4


class RelaxedPlan(NamedTuple):
  """Everything the relaxation needs about one graph, cluster and priority vector (array leaves).

  Rows list the nodes in the exact simulators' service order ``(key, index)``;
  a node's producers are split over consecutive rows of ``EDGE_SLOTS`` slots.

  Attributes:
    node: (L,) int32 node of each row.
    producers: (L, K) int32 producer in each slot, -1 if empty.
    first: (L,) bool, first row of its node.
    last: (L,) bool, last row of its node (the node is scheduled there).
    duration: (N, D) seconds of each unfused node on each device.
    copy_time: (N, D, D) seconds to copy each node's output from device s to d (0 on the diagonal).
    senders: (E,) int32 edge producers (for the copy probabilities Q).
    receivers: (E,) int32 edge consumers.
  """

  node: Any  # (L,) int32
  producers: Any  # (L, K) int32
  first: Any  # (L,) bool
  last: Any  # (L,) bool
  duration: Any  # (N, D) float, s
  copy_time: Any  # (N, D, D) float, s
  senders: Any  # (E,) int32
  receivers: Any  # (E,) int32


class RelaxedSchedule(NamedTuple):
  """Outputs of :func:`relaxed_schedule` (leading batch axes when vmapped).

  Attributes:
    step_time: () seconds, ``smax_T`` of the expected finishes.
    finish: (N, D) seconds each node would finish at on each device (given the rest).
    expected_finish: (N,) seconds, ``sum_d P[v, d] finish[v, d]``.
    arrival: (N, D) seconds each node's output is present on each device.
  """

  step_time: Any
  finish: Any
  expected_finish: Any
  arrival: Any


def relaxed_plan(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                 priority=None, dtype=None) -> RelaxedPlan:
  """Builds the :class:`RelaxedPlan` of a graph on a cluster (host side, numpy, once per priority vector).

  Args:
    graph: the graph (N nodes, E edges).
    cluster: the cluster (D devices).
    priority: (N,) float priorities (default: equal, level order); keys as in
      :func:`simulator.reference.order_keys` (float64).
    dtype: float dtype of the times (default: float64 under x64, else float32).

  Returns:
    The plan, with jax array leaves.
  """
  n, d = graph.num_nodes, cluster.num_devices
  if n == 0:
    raise ValueError("relaxed_plan: the graph has no nodes")
  priority = np.zeros(n) if priority is None else np.asarray(priority, np.float64)
  if priority.shape != (n,) or not np.all(np.isfinite(priority)):
    raise ValueError(f"relaxed_plan: priority must be ({n},) finite floats, got shape {priority.shape}")
  if dtype is None:
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
  key = reference.order_keys(graph, priority)
  order = np.lexsort((np.arange(n), key))  # ascending (key, index)

  in_degree = np.bincount(graph.receivers, minlength=n)
  rows_of = np.maximum(1, -(-in_degree // EDGE_SLOTS))  # (N,)
  row_start = np.zeros(n, np.int64)
  row_start[order] = np.cumsum(rows_of[order]) - rows_of[order]
  num_rows = int(rows_of.sum())
  node = np.empty(num_rows, np.int32)
  node[row_start[order]] = order
  first = np.zeros(num_rows, bool)
  first[row_start] = True
  node = node[np.maximum.accumulate(np.where(first, np.arange(num_rows), 0))]  # fill each node's rows
  last = np.zeros(num_rows, bool)
  last[row_start + rows_of - 1] = True
  # Edge slots: the k-th in-edge of v goes to row row_start[v] + k // K, slot k % K.
  edge_order = np.argsort(graph.receivers, kind="stable")
  receivers_sorted = graph.receivers[edge_order]
  local = np.arange(graph.num_edges) - np.searchsorted(receivers_sorted, receivers_sorted, side="left")
  producers = np.full((num_rows, EDGE_SLOTS), -1, np.int32)
  producers[row_start[receivers_sorted] + local // EDGE_SLOTS, local % EDGE_SLOTS] = graph.senders[edge_order]

  transfer = types.measured_transfer(graph)  # (N,) s, -1 unknown
  latency = np.asarray(cluster.link_latency, np.float64)
  bandwidth = np.asarray(cluster.link_bandwidth, np.float64)
  copy_time = latency[None] + types.copy_bytes(graph)[:, None, None] / bandwidth[None]
  copy_time = np.where(transfer[:, None, None] >= 0, transfer[:, None, None], copy_time)
  copy_time = copy_time * (1.0 - np.eye(d))[None]
  return RelaxedPlan(
      node=jnp.asarray(node), producers=jnp.asarray(producers), first=jnp.asarray(first),
      last=jnp.asarray(last), duration=jnp.asarray(objectives.node_times(graph, cluster), dtype),
      copy_time=jnp.asarray(copy_time, dtype), senders=jnp.asarray(graph.senders, jnp.int32),
      receivers=jnp.asarray(graph.receivers, jnp.int32))


def smooth_max(values, temperature, axis=-1):
  """``T * logsumexp(values / T)`` along ``axis`` (seconds; ``-inf`` entries are ignored).

  Lies in ``[max, max + T log(count)]``, nondecreasing in ``T`` and in every value.
  """
  return temperature * jax.nn.logsumexp(values / temperature, axis=axis)


def copy_probability(probs, senders, receivers):
  """(N, D) probability that some consumer of each node is on each device.

  ``Q[v, d] = 1 - prod_{edges v -> c} (1 - P[c, d])`` (independent placements;
  exactly 0 or 1 at one-hot ``P``). Computed in log space with a guarded log,
  so a consumer that is surely on d gives ``Q = 1`` with a finite gradient.
  """
  stay = 1.0 - probs[receivers]  # (E, D)
  positive = stay > 0
  log_stay = jnp.where(positive, jnp.log(jnp.where(positive, stay, 1.0)), -jnp.inf)
  total = jax.ops.segment_sum(log_stay, senders, num_segments=probs.shape[0])
  return 1.0 - jnp.exp(total)


def _row(a_rows, device_free, link_free, ready, p, q, duration, copy_time, temperature, producers, first, last):
  """One scan row on small arrays (module docstring): (here, device_free, link_free, ready, finish).

  ``a_rows`` (K, D) are the arrivals of the row's producer slots; ``p``, ``q``,
  ``duration`` (D,) and ``copy_time`` (D, D) are the row's node's. Pure, so
  its VJP is one step of the reverse pass (:func:`_scan_rows`).
  """
  num_devices = device_free.shape[0]
  off_diagonal = 1.0 - jnp.eye(num_devices, dtype=device_free.dtype)
  inputs = jnp.where((producers >= 0)[:, None], a_rows, -jnp.inf)  # (K, D)
  base = jnp.where(first, device_free, ready)  # a node's first row starts from its device's free time
  ready = smooth_max(jnp.concatenate([base[None], inputs]), temperature, axis=0)  # (D,)
  finish = ready + duration  # (D,) if v ran on d
  copy_end = smooth_max(jnp.stack([jnp.broadcast_to(finish[:, None], link_free.shape), link_free]),
                        temperature, axis=0) + copy_time  # (D, D) from s to d'
  landed = jnp.where(off_diagonal > 0, copy_end, finish[:, None])  # (D, D): on d' if v on s
  here = p @ landed  # (D,) expected arrival on d'
  device_free = jnp.where(last, device_free + p * (finish - device_free), device_free)
  link_free = jnp.where(last, link_free + (p[:, None] * q[None, :] * off_diagonal) * (copy_end - link_free),
                        link_free)
  return here, device_free, link_free, ready, finish


def _forward_scan(num_nodes, rows, temperature):
  """The relaxed schedule's scan; also returns each row's inputs (the reverse pass's residuals)."""
  num_devices = rows[4].shape[-1]
  dtype = rows[4].dtype

  def step(carry, row):
    arrival, device_free, link_free, ready = carry
    producers, first, last, node, p, q, duration, copy_time = row
    a_rows = arrival[jnp.maximum(producers, 0)]  # (K, D)
    here, new_free, new_links, new_ready, finish = _row(a_rows, device_free, link_free, ready, p, q, duration,
                                                        copy_time, temperature, producers, first, last)
    arrival = arrival.at[jnp.where(last, node, num_nodes)].set(here)  # non-last rows write to the trash row
    return (arrival, new_free, new_links, new_ready), (finish, (a_rows, device_free, link_free, ready))

  init = (jnp.zeros((num_nodes + 1, num_devices), dtype), jnp.zeros(num_devices, dtype),
          jnp.zeros((num_devices, num_devices), dtype), jnp.zeros(num_devices, dtype))
  (arrival, _, _, _), (row_finish, residuals) = lax.scan(step, init, rows)
  return arrival, row_finish, residuals


def _scan_rows_autodiff(num_nodes, rows, temperature):
  """(arrival (N+1, D), row finishes (L, D)): the scan as JAX differentiates it (the reference).

  Reverse mode through this scan costs O(N D) per row (the (N, D) arrival
  carry's cotangent is rebuilt every step): O(L N D) in all, ~21 s for 64k
  nodes on 8 devices (``BENCHMARKS.md``). :func:`_scan_rows` gives the same values and gradients in
  O(L (K D + D^2)).
  """
  arrival, row_finish, _ = _forward_scan(num_nodes, rows, temperature)
  return arrival, row_finish


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _scan_rows(num_nodes, rows, temperature):
  """:func:`_scan_rows_autodiff` with a hand-written reverse pass (linear in the rows)."""
  return _scan_rows_autodiff(num_nodes, rows, temperature)


def _scan_rows_fwd(num_nodes, rows, temperature):
  arrival, row_finish, residuals = _forward_scan(num_nodes, rows, temperature)
  return (arrival, row_finish), (rows, temperature, residuals)


def _scan_rows_bwd(num_nodes, saved, cotangents):
  """Walks the rows backwards: each row's VJP (:func:`_row`) on its saved inputs, the arrival
  cotangent kept as one (N+1, D) carry read at the row's node and scattered to its producers
  in place (what JAX's own transpose of the scan does with a fresh (N+1, D) array per row)."""
  rows, temperature, residuals = saved
  ct_arrival, ct_row_finish = cotangents
  num_devices = rows[4].shape[-1]
  dtype = rows[4].dtype

  def step(carry, xs):
    ct_a, pending_rows, pending, ct_free, ct_links, ct_ready, ct_temperature = carry
    row, (a_rows, device_free, link_free, ready), ct_finish = xs
    producers, first, last, node, p, q, duration, copy_time = row
    # The later row's producer cotangents are added first, then this row's node is read: in this
    # order the carry is only read after its last update in the step, so XLA updates it in place
    # (reading first and scattering after made it copy the whole (N+1, D) carry every row).
    ct_a = ct_a.at[pending_rows].add(pending)
    # Every node's arrival row is written once, at its last row; earlier rows read it only before
    # that (as the initial zeros, a constant), so its cotangent is complete here.
    ct_here = ct_a[jnp.where(last, node, num_nodes)]
    _, vjp = jax.vjp(lambda *x: _row(*x, producers, first, last), a_rows, device_free, link_free, ready, p, q,
                     duration, copy_time, temperature)
    ct_rows, ct_free, ct_links, ct_ready, ct_p, ct_q, ct_duration, ct_copy, ct_t = vjp(
        (ct_here, ct_free, ct_links, ct_ready, ct_finish))
    pending = jnp.where((producers >= 0)[:, None], ct_rows, 0.0)
    return ((ct_a, jnp.maximum(producers, 0), pending, ct_free, ct_links, ct_ready, ct_temperature + ct_t),
            (ct_p, ct_q, ct_duration, ct_copy))

  slots = rows[0].shape[-1]
  init = (jnp.asarray(ct_arrival, dtype), jnp.zeros(slots, jnp.int32), jnp.zeros((slots, num_devices), dtype),
          jnp.zeros(num_devices, dtype), jnp.zeros((num_devices, num_devices), dtype), jnp.zeros(num_devices, dtype),
          jnp.zeros((), jnp.result_type(temperature)))
  # The first row's producer cotangents are left pending: they would go to the initial arrivals (constants).
  carry, (ct_p, ct_q, ct_duration, ct_copy) = lax.scan(step, init, (rows, residuals, ct_row_finish), reverse=True)
  ct_temperature = carry[-1]
  integer = tuple(np.zeros(np.shape(x), jax.dtypes.float0) for x in rows[:4])  # producers, first, last, node
  return (integer + (ct_p, ct_q, ct_duration, ct_copy), ct_temperature)


_scan_rows.defvjp(_scan_rows_fwd, _scan_rows_bwd)


def relaxed_schedule(plan: RelaxedPlan, probs, temperature, scan_rows=_scan_rows) -> RelaxedSchedule:
  """The relaxed in-order schedule of one soft placement (no batch axes; wrap with ``jax.vmap``).

  Args:
    plan: the graph's :class:`RelaxedPlan` (N nodes, D devices).
    probs: (N, D) placement probabilities (rows sum to 1; one-hot = a hard placement).
    temperature: () seconds, smooth-max temperature ``T`` > 0.
    scan_rows: the row scan: :func:`_scan_rows` (hand-written reverse pass), or
      :func:`_scan_rows_autodiff` (JAX's, O(N^2); the tests' and benchmark's reference).

  Returns:
    A :class:`RelaxedSchedule`.
  """
  num_nodes, num_devices = plan.duration.shape
  dtype = plan.duration.dtype
  probs = jnp.asarray(probs, dtype)
  temperature = jnp.asarray(temperature, dtype)
  if probs.shape != (num_nodes, num_devices):
    raise ValueError(f"probs has shape {probs.shape}, expected {(num_nodes, num_devices)}")
  need = copy_probability(probs, plan.senders, plan.receivers)
  rows = (plan.producers, plan.first, plan.last, plan.node, probs[plan.node], need[plan.node],
          plan.duration[plan.node], plan.copy_time[plan.node])
  arrival, row_finish = scan_rows(num_nodes, rows, temperature)
  arrival = arrival[:num_nodes]
  # A node's finish is the one computed at its last row.
  finish = jnp.zeros((num_nodes + 1, num_devices), dtype).at[jnp.where(plan.last, plan.node, num_nodes)].set(
      row_finish)[:num_nodes]
  expected = (probs * finish).sum(axis=-1)
  return RelaxedSchedule(smooth_max(expected, temperature), finish, expected, arrival)


@jax.jit
def relaxed_step_time(plan: RelaxedPlan, probs, temperature):
  """() relaxed step time in seconds of soft placement ``probs`` (N, D) at temperature ``T`` s (jitted).

  Equals the exact step time (fusion off, the plan's priorities) at one-hot
  ``probs`` in the limit ``T -> 0``; see the module docstring.
  """
  return relaxed_schedule(plan, probs, temperature).step_time


@jax.jit
def relaxed_step_time_batch(plan: RelaxedPlan, probs, temperature):
  """(B,) relaxed step times of (B, N, D) soft placements (one temperature, jitted)."""
  return jax.vmap(lambda p: relaxed_schedule(plan, p, temperature).step_time)(probs)
