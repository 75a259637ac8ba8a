"""The reference simulator: plain Python, float64, a heap-based discrete-event simulation.

This module *is* the specification (``simulator/README.md`` describes the same
rules in words). It is written to be read, not to be fast; the vectorized
simulator (:mod:`simulator.vectorized`) must agree with it.

Steps, for one graph, one cluster and one decision set:

1. order keys: ``key[i] = max(key[producers]) + 2 ** -priority[i]``;
2. fusion: which fusion requests are legal, and each node's kernel root;
3. kernel durations (roofline or measured) and the copies needed;
4. the event simulation: every device and every directed link serves its
   queue one item at a time, in order (or FIFO-ready order for the dynamic
   TensorFlow-like policy);
5. memory: an event sweep of tensor lifetimes per device.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

import numpy as np

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import objectives
from simulator import types

IN_ORDER = "in_order"
FIFO = "fifo"


class Trace(NamedTuple):
  """Everything the reference computed, for tests and debugging (unpadded, float64).

  Attributes:
    key: (N,) order keys.
    root: (N,) kernel root of every node (itself when not fused).
    fused: (N,) bool, the node's fusion request was legal and applied.
    duration: (N,) seconds of each kernel (at its root; 0 for fused members).
    start: (N,) kernel start (members: their root's).
    finish: (N,) kernel finish (members: their root's).
    copies: dict (producer, destination device) -> (start, finish) seconds.
    device_order: per device, the kernel roots in the order they ran.
  """

  key: np.ndarray
  root: np.ndarray
  fused: np.ndarray
  duration: np.ndarray
  start: np.ndarray
  finish: np.ndarray
  copies: dict
  device_order: list


def order_keys(graph: graph_lib.ComputationGraph, priority: np.ndarray) -> np.ndarray:
  """(N,) float64 keys: ``max(key[producers]) + priority_delta(priority)``, sources from 0."""
  delta = types.priority_delta(np.asarray(priority, np.float64))
  key = np.zeros(graph.num_nodes)
  for i in graph.topological_order:
    producers = graph.producers(i)
    key[i] = (key[producers].max() if producers.size else 0.0) + delta[i]
  return key


def measured_on_placement(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                          placement: np.ndarray) -> np.ndarray:
  """(N,) measured seconds of each node on its device, -1 when unknown."""
  table = types.latency_table(graph, cluster.device_kinds)
  return table[np.arange(graph.num_nodes), placement]


def apply_fusion(graph: graph_lib.ComputationGraph, placement: np.ndarray, fusion: np.ndarray,
                 measured: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The deterministic legality rule; returns ``(fused (N,) bool, root (N,) int)``.

  A request ``fusion[j]`` (fuse j into its consumer c) is a *candidate* when j
  has exactly one consumer c, c is on j's device, and neither j nor c has a
  measured latency. Visiting consumers c in topological order, with
  ``has_contraction[c]`` = c is a contraction, c's candidates j are taken in
  increasing node id: a j whose kernel holds no contraction is accepted; a j
  whose kernel holds one is accepted only if c's kernel holds none yet (then
  it does). So every kernel holds at most one contraction, and every decision
  vector is valid.
  """
  n = graph.num_nodes
  consumer, _ = types.single_consumer(graph)
  is_contraction = graph.op_class == types.CONTRACTION_CLASS
  candidate = (fusion & (consumer >= 0) & (measured < 0)
               & (placement == placement[np.maximum(consumer, 0)])
               & (measured[np.maximum(consumer, 0)] < 0))
  has_contraction = is_contraction.copy()
  fused = np.zeros(n, bool)
  for c in graph.topological_order:
    for j in sorted(int(p) for p in graph.producers(c) if candidate[p]):
      if has_contraction[j] and has_contraction[c]:
        continue  # would put a second contraction into c's kernel
      fused[j] = True
      has_contraction[c] |= has_contraction[j]
  root = np.arange(n)
  for i in graph.topological_order[::-1]:  # consumers before producers
    if fused[i]:
      root[i] = root[consumer[i]]
  return fused, root


def kernel_durations(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                     placement: np.ndarray, fused: np.ndarray, root: np.ndarray,
                     measured: np.ndarray) -> np.ndarray:
  """(N,) seconds of each kernel, at its root (0 for fused members).

  ``max(sum_m flops_m / (peak * eff[class_m]), external_bytes / (bw * eff_bw)) + launch``,
  where external bytes are the members' bytes accessed minus, for each fused
  member, its write and its consumer's read of it. A node with a measured
  latency on its device is never fused and costs its measurement.
  """
  consumer, consumer_bytes = types.single_consumer(graph)
  del consumer
  peak = np.asarray(cluster.peak_flops, np.float64)[placement]
  eff = np.asarray(cluster.eff, np.float64)[graph.op_class]
  compute = np.zeros(graph.num_nodes)
  traffic = np.zeros(graph.num_nodes)
  internal = np.where(fused, graph.bytes_written + consumer_bytes, 0.0)
  for i in range(graph.num_nodes):
    compute[root[i]] += graph.flops[i] / (peak[i] * eff[i])
    traffic[root[i]] += graph.bytes_accessed[i] - internal[i]
  bandwidth = np.asarray(cluster.mem_bandwidth, np.float64)[placement] * float(cluster.eff_bw)
  launch = np.asarray(cluster.launch_overhead, np.float64)[placement]
  duration = np.maximum(compute, np.maximum(traffic, 0.0) / bandwidth) + launch
  duration = np.where(measured >= 0, measured, duration)
  return np.where(fused, 0.0, duration)


def copy_duration(cluster: cluster_lib.Cluster, source: int, destination: int, num_bytes: float,
                  measured: float) -> float:
  """Seconds to copy a tensor: its measured transfer time, else ``latency + bytes / bandwidth``."""
  if measured >= 0:
    return float(measured)
  return (float(cluster.link_latency[source][destination])
          + num_bytes / float(cluster.link_bandwidth[source][destination]))


def _event_simulation(graph, placement, key, root, duration, copy_dur, num_devices, policy):
  """Runs kernels and copies; returns (start, finish, copies, device_order)."""
  roots = [int(r) for r in np.flatnonzero(root == np.arange(graph.num_nodes))]
  # External inputs of each kernel: (producer, device it is needed on).
  inputs: dict[int, set[int]] = {r: set() for r in roots}
  for j, i in zip(graph.senders.tolist(), graph.receivers.tolist()):
    if root[j] != root[i]:  # not an edge internal to a kernel (then j is a root)
      inputs[int(root[i])].add(j)
  order = lambda x: (key[x], x)  # noqa: E731  (ascending key, ties: node index)
  device_queue = {d: sorted((r for r in roots if placement[r] == d), key=order) for d in range(num_devices)}
  link_queue: dict[tuple[int, int], list[int]] = {}
  for (j, d) in sorted(copy_dur, key=lambda jd: order(jd[0])):
    link_queue.setdefault((int(placement[j]), d), []).append(j)

  present: dict[tuple[int, int], float] = {}  # (tensor, device) -> time it is there
  start = np.zeros(graph.num_nodes)
  finish = np.full(graph.num_nodes, np.nan)
  copies: dict[tuple[int, int], tuple[float, float]] = {}
  device_free = {d: True for d in range(num_devices)}
  link_free = {link: True for link in link_queue}
  started: set[int] = set()
  device_order: list[list[int]] = [[] for _ in range(num_devices)]
  head_of_device = {d: 0 for d in range(num_devices)}  # in-order: index of the next kernel
  head_of_link = {link: 0 for link in link_queue}
  events: list[tuple[float, int, str, tuple]] = []
  counter = 0

  def push(time, kind, payload):
    nonlocal counter
    heapq.heappush(events, (time, counter, kind, payload))
    counter += 1

  def ready_time(r):
    """Time all inputs of kernel r are on its device, or None if some are not yet."""
    d = int(placement[r])
    times = [present.get((j, d)) for j in inputs[r]]
    if any(t is None for t in times):
      return None
    return max(times, default=0.0)

  # FIFO ready queues: a kernel enters its device's queue when its last input
  # arrives, keyed by that arrival time (ties: node index); a copy enters its
  # link's queue when its producer finishes.
  waiting = {r: len(inputs[r]) for r in roots}
  waiting_on: dict[tuple[int, int], list[int]] = {}
  for r in roots:
    for j in inputs[r]:
      waiting_on.setdefault((j, int(placement[r])), []).append(r)
  device_ready: dict[int, list[tuple[float, int]]] = {d: [] for d in range(num_devices)}
  link_ready: dict[tuple[int, int], list[tuple[float, int]]] = {link: [] for link in link_queue}
  copies_of = {}
  for link, producers in link_queue.items():
    for j in producers:
      copies_of.setdefault(j, []).append(link)
  for r in roots:
    if waiting[r] == 0:
      heapq.heappush(device_ready[int(placement[r])], (0.0, r))

  def arrived(j, d, now):
    """Tensor j is now present on device d: release the kernels that waited for it."""
    present[(j, d)] = now
    for r in waiting_on.get((j, d), ()):
      waiting[r] -= 1
      if waiting[r] == 0:
        heapq.heappush(device_ready[d], (now, r))

  def next_kernel(d, now):
    if policy == IN_ORDER:  # in-order stream: only the head may start
      head = head_of_device[d]
      if head >= len(device_queue[d]):
        return None
      r = device_queue[d][head]
      t = ready_time(r)
      return r if t is not None and t <= now else None
    return heapq.heappop(device_ready[d])[1] if device_ready[d] else None  # FIFO

  def next_copy(link, now):
    if policy == IN_ORDER:
      head = head_of_link[link]
      if head >= len(link_queue[link]):
        return None
      j = link_queue[link][head]
      return j if not np.isnan(finish[j]) and finish[j] <= now else None
    return heapq.heappop(link_ready[link])[1] if link_ready[link] else None  # FIFO

  def dispatch(now):
    for d in range(num_devices):
      if device_free[d]:
        r = next_kernel(d, now)
        if r is not None:
          started.add(r)
          head_of_device[d] += 1
          device_free[d] = False
          start[r] = now
          device_order[d].append(r)
          push(now + duration[r], "kernel", (r,))
    for link in link_queue:
      if link_free[link]:
        j = next_copy(link, now)
        if j is not None:
          head_of_link[link] += 1
          link_free[link] = False
          push(now + copy_dur[(j, link[1])], "copy", (j, link, now))

  dispatch(0.0)
  while events:
    now, _, kind, payload = heapq.heappop(events)
    if kind == "kernel":
      (r,) = payload
      finish[r] = now
      arrived(r, int(placement[r]), now)
      for link in copies_of.get(r, ()):
        heapq.heappush(link_ready[link], (now, r))
      device_free[int(placement[r])] = True
    else:
      j, link, copy_start = payload
      arrived(j, link[1], now)
      copies[(j, link[1])] = (copy_start, now)
      link_free[link] = True
    dispatch(now)
  if len(started) != len(roots):  # cannot happen: keys are topological
    raise RuntimeError("reference simulation deadlocked")
  start[:] = start[root]
  finish[:] = finish[root]
  return start, finish, copies, device_order


def peak_memory(graph, placement, root, start, finish, copies, num_devices) -> np.ndarray:
  """(D,) bytes: resident parameters plus the peak of live tensors.

  Live tensors: a kernel's output on its device from its start to the last
  end of its local consuming kernels and outgoing copies (at least its own
  end); a copy on its destination from the copy's start to the last end of
  its consuming kernels there. Memory at time t counts tensors with
  ``alloc <= t < free`` (frees before allocs at equal times; a tensor with
  ``free <= alloc`` is never counted).
  """
  copy_size = types.copy_bytes(graph)
  out_free = finish.copy()
  copy_free = {jd: end for jd, (_, end) in copies.items()}
  for j, i in zip(graph.senders.tolist(), graph.receivers.tolist()):
    if root[j] == root[i]:
      continue  # internal to a fused kernel: no memory
    d = int(placement[i])
    if d == placement[j]:
      out_free[j] = max(out_free[j], finish[i])
    else:
      copy_free[(j, d)] = max(copy_free[(j, d)], finish[i])
  for (j, _), (_, end) in copies.items():
    out_free[j] = max(out_free[j], end)
  local_bytes = types.local_output_bytes(graph)  # a parameter's output is its resident bytes
  tensors = []  # (device, alloc, free, bytes)
  for r in np.flatnonzero(root == np.arange(graph.num_nodes)):
    tensors.append((int(placement[r]), start[r], out_free[r], local_bytes[r]))
  for (j, d), (copy_start, _) in copies.items():
    tensors.append((d, copy_start, copy_free[(j, d)], copy_size[j]))
  peak = np.zeros(num_devices)
  for d in range(num_devices):
    events = []
    for device, alloc, free, size in tensors:
      if device == d and free > alloc:
        events += [(alloc, 1, size), (free, 0, -size)]  # at equal times frees (0) first
    live = 0.0
    for _, _, delta in sorted(events, key=lambda e: (e[0], e[1])):
      live += delta
      peak[d] = max(peak[d], live)
  params = np.zeros(num_devices)
  np.add.at(params, placement, graph.param_bytes)
  return params + peak


def simulate_reference(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                       decisions: types.Decisions, policy: str = IN_ORDER,
                       ) -> tuple[types.SimResult, Trace]:
  """Simulates one decision set exactly (float64).

  Args:
    graph: the graph (N nodes).
    cluster: the cluster (D devices).
    decisions: (N,) placement, priority, fusion.
    policy: ``"in_order"`` (the semantics: each device and link serves its
      queue in ascending key) or ``"fifo"`` (dynamic: a free device runs the
      kernel whose inputs arrived first; a free link sends the copy whose
      producer finished first; ties by node index; priorities are unused).

  Returns:
    ``(result, trace)``: the :class:`~simulator.types.SimResult` and a
    :class:`Trace` with per-node times and per-device orders.
  """
  if policy not in (IN_ORDER, FIFO):
    raise ValueError(f"unknown policy {policy!r} (use {IN_ORDER!r} or {FIFO!r})")
  d = cluster.num_devices
  decisions = types.check_decisions(decisions, graph.num_nodes, d)
  placement = decisions.placement
  key = order_keys(graph, decisions.priority)
  measured = measured_on_placement(graph, cluster, placement)
  fused, root = apply_fusion(graph, placement, decisions.fusion, measured)
  duration = kernel_durations(graph, cluster, placement, fused, root, measured)
  size = types.copy_bytes(graph)
  transfer = types.measured_transfer(graph)
  copy_dur = {}
  for j, i in zip(graph.senders.tolist(), graph.receivers.tolist()):
    if root[j] != root[i] and placement[i] != placement[j]:
      copy_dur[(j, int(placement[i]))] = copy_duration(cluster, int(placement[j]), int(placement[i]),
                                                        size[j], transfer[j])
  start, finish, copies, device_order = _event_simulation(
      graph, placement, key, root, duration, copy_dur, d, policy)
  peak = peak_memory(graph, placement, root, start, finish, copies, d)
  busy = np.zeros(d)
  np.add.at(busy, placement, duration)
  result = types.SimResult(
      step_time=float(max(finish.max(), max((end for _, end in copies.values()), default=0.0))),
      busy_time=busy, peak_memory=peak, oom=peak > np.asarray(cluster.mem_capacity),
      bytes_moved=float(sum(size[j] for j, _ in copies)),
      max_load=objectives.max_load(graph, cluster, placement),
      num_iterations=0)
  return result, Trace(key, root, fused, duration, start, finish, copies, device_order)


def priorities_from_order(graph: graph_lib.ComputationGraph, order) -> np.ndarray:
  """(N,) float priorities whose keys sort nodes like ``order`` (a topological order).

  With ``rank[i]`` the position of node i in ``order``, priority
  ``-log2(rank[i] - max(rank[producers]))`` makes ``key[i] == rank[i] + 1``
  (up to rounding), so e.g. the FIFO order of :func:`simulate_reference` with
  ``policy="fifo"`` becomes an in-order schedule.
  """
  rank = np.empty(graph.num_nodes)
  rank[np.asarray(order)] = np.arange(graph.num_nodes) + 1.0
  prev = np.zeros(graph.num_nodes)
  np.maximum.at(prev, graph.receivers, rank[graph.senders])
  gap = rank - prev
  if np.any(gap <= 0):
    raise ValueError("order is not topological")
  return -np.log2(gap)
