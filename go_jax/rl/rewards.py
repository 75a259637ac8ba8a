"""The reward of one simulated decision vector, normalised per graph.

**Choice.** Following the GO paper summary (``paper.md``) and HDP's grappler
controller, the reward is

  ``reward = -sqrt(effective_time / reference_step_time)``

* ``reference_step_time`` (s) is the best *simple* heuristic's step time on
  that graph: the minimum, under the exact reference simulator, of
  single-device, contiguous (cost-balanced pipeline split) and, when known,
  the human-expert placement, with level-order scheduling and no fusion
  (:func:`reference_step_time`). Computed once per graph. Dividing by it makes
  graphs of different sizes comparable (reward -1 = as good as the
  heuristic), and the square root compresses the long tail of bad samples.
* ``effective_time`` is the step time when every device fits in memory. When
  some device runs out of memory the sample gets HDP's *failing signal*: a
  fixed, large step time, ``oom_factor x reference`` (10x by default; HDP
  uses a flat 100 s), times ``1 + overflow_weight * overflow / capacity``
  where ``overflow = sum_d max(0, peak_memory_d - capacity_d)`` bytes and
  ``capacity = sum_d capacity_d``. The factor keeps OOM far below any
  plausible feasible reward; the overflow term still tells the policy which
  failing samples are closer to fitting (HDP's flat signal cannot). A
  feasible step time above the failing signal is never preferred over it:
  ``effective_time = max(step_time, failing signal)`` under OOM.

All functions are pure jnp on any leading batch shape.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from go_jax.baselines import fusion as fusion_lib
from go_jax.baselines import placement as placement_lib
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib
from simulator import objectives


class RewardConfig(NamedTuple):
  """How OOM is penalised (static, hashable).

  Attributes:
    oom_factor: failing-signal step time, in units of the reference step time.
    overflow_weight: growth of the failing signal per unit of overflow / total capacity.
  """

  oom_factor: float = 10.0
  overflow_weight: float = 1.0


def overflow_fraction(peak_memory: jax.Array, capacity: jax.Array) -> jax.Array:
  """(...,) total bytes above capacity over total capacity.

  Args:
    peak_memory: (..., D) bytes.
    capacity: (D,) bytes.
  """
  overflow = jnp.maximum(peak_memory - capacity, 0.0).sum(axis=-1)
  return overflow / capacity.sum()


def effective_step_time(step_time: jax.Array, oom: jax.Array, overflow: jax.Array,
                        reference: jax.Array, config: RewardConfig) -> jax.Array:
  """(...,) seconds the reward is computed from (module docstring).

  Args:
    step_time: (...,) simulated seconds.
    oom: (...,) bool, some device ran out of memory.
    overflow: (...,) :func:`overflow_fraction`.
    reference: (...,) reference step time (s), broadcastable.
    config: the OOM rule.
  """
  failing = config.oom_factor * reference * (1.0 + config.overflow_weight * overflow)
  return jnp.where(oom, jnp.maximum(step_time, failing), step_time)


def reward(step_time: jax.Array, oom: jax.Array, overflow: jax.Array, reference: jax.Array,
           config: RewardConfig) -> jax.Array:
  """(...,) ``-sqrt(effective_step_time / reference)``; -1 = the reference heuristic."""
  return -jnp.sqrt(effective_step_time(step_time, oom, overflow, reference, config) / reference)


class MemoryNeed(NamedTuple):
  """Bytes one graph needs on one device: its simulated peak memory with every node there.

  Attributes:
    unfused: with no fusion.
    fused: with every op fused (:func:`go_jax.baselines.fusion.fuse_all`).
  """

  unfused: float
  fused: float


class Reference(NamedTuple):
  """What one graph's rewards are normalised by, and what it asks of one device.

  Attributes:
    step_time: seconds, the best simple heuristic's exact step time.
    name: that heuristic (``single``, ``contiguous`` or ``expert``).
    memory: the graph's single-device memory need, for the policy's cluster
      context (:func:`go_jax.graph.features.cluster_features`).
  """

  step_time: float
  name: str
  memory: MemoryNeed


def reference(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
              num_devices: int | None = None, expert: np.ndarray | None = None) -> Reference:
  """The best simple heuristic's exact step time (s), its name and the single-device memory need.

  Scores single-device, contiguous (:func:`contiguous_split`) and the expert
  placement (when given) with :func:`simulator.simulate_reference`; OOM
  candidates are skipped unless all are OOM.

  Args:
    graph: the graph.
    cluster: the cluster.
    num_devices: devices placements may use (the first ones; default all).
    expert: (N,) int32 human-expert placement, if known.
  """
  num_devices = cluster.num_devices if num_devices is None else num_devices
  candidates = {"single": placement_lib.single_device(graph, num_devices)}
  if num_devices > 1:
    candidates["contiguous"] = contiguous_split(graph, cluster, num_devices)
  if expert is not None:
    candidates["expert"] = np.asarray(expert, np.int32)
  scored, unfused = [], 0.0
  for name, devices in candidates.items():
    result = _simulate(graph, cluster, devices)
    scored.append((bool(np.any(result.oom)), float(result.step_time), name))
    if name == "single":
      unfused = float(np.max(result.peak_memory))
  _, step_time, name = min(scored)
  fused = _simulate(graph, cluster, candidates["single"], fusion_lib.fuse_all(graph))
  return Reference(step_time, name, MemoryNeed(unfused, float(np.max(fused.peak_memory))))


def reference_step_time(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                        num_devices: int | None = None, expert: np.ndarray | None = None
                        ) -> tuple[float, str]:
  """:func:`reference`'s step time (s) and heuristic name."""
  ref = reference(graph, cluster, num_devices, expert)
  return ref.step_time, ref.name


def contiguous_split(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster, num_devices: int) -> np.ndarray:
  """(N,) int32 the reference's contiguous placement: topological order cut into balanced roofline time."""
  return placement_lib.contiguous(graph, num_devices, objectives.node_times(graph, cluster).min(axis=1))


def memory_need(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                num_devices: int | None = None) -> MemoryNeed:
  """:attr:`Reference.memory` alone (two exact simulations)."""
  num_devices = cluster.num_devices if num_devices is None else num_devices
  single = placement_lib.single_device(graph, num_devices)
  return MemoryNeed(*(float(np.max(_simulate(graph, cluster, single, fusion).peak_memory))
                      for fusion in (None, fusion_lib.fuse_all(graph))))


def _simulate(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster, placement: np.ndarray,
              fusion: np.ndarray | None = None) -> simulator.SimResult:
  """Exact result of ``placement`` with level-order priorities and ``fusion`` (default none)."""
  decisions = simulator.default_decisions(graph.num_nodes, placement)
  if fusion is not None:
    decisions = decisions._replace(fusion=np.asarray(fusion, bool))
  result, _ = simulator.simulate_reference(graph, cluster, decisions)
  return result
