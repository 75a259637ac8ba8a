"""Device-label symmetry: the canonical labeling of a placement, for PPO.

On a cluster whose devices are interchangeable, renaming the devices of a
placement does not change its step time: up to d! labelings of one partition
of the graph score the same. A policy that decides every node independently
(GO is non-autoregressive) then spreads its probability over equivalent
labelings, and its per-node argmax can mix them: most nodes on device 3,
their neighbours on device 0, and copies that no sampled vector had (the
rnnlm zero-shot failure of ``docs/transfer.md``). Training on one canonical
labeling per partition removes the ambiguity: after sampling, each placement
is replaced by its equivalent labeling that is lexicographically smallest in
topological order, and PPO learns that one (``ppo.canonical_devices``).

*Equivalent* means related by an automorphism of the cluster
(:func:`device_automorphisms`): a permutation ``p`` of the devices a
placement may use under which every per-device spec and both link matrices
are unchanged (``peak_flops[p] == peak_flops``,
``link_bandwidth[p][:, p] == link_bandwidth``, ...). The simulator's step time
is invariant under exactly these relabelings (``tests/rl/test_symmetry.py``
checks it). On a uniform, fully connected cluster (``a100x8``, ``h100x8``,
``p100x4``) that is every permutation, and the canonical labeling numbers the
devices in order of first use. On a DGX-1V hybrid cube-mesh (``v100x4``,
``v100x8``) it is only the permutations that keep its double NVLinks, so a
partition placed on the double-linked pair (0, 3) is not renamed to the
single-linked pair (0, 1).

Shapes: D devices of the cluster, S = min(D, 8)! rows per group (the group
padded with the identity, a static shape per D); placements may use at most
8 devices (the placement head's size), so at most 8! relabelings exist.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from simulator import cluster as cluster_lib

#: Largest device count whose permutations are enumerated (8! = 40,320 rows).
MAX_DEVICES = 8
_PER_DEVICE = ("peak_flops", "mem_bandwidth", "mem_capacity", "launch_overhead")
_LINKS = ("link_latency", "link_bandwidth")


def device_automorphisms(cluster: cluster_lib.Cluster, num_devices: int) -> np.ndarray:
  """(S, D) int32: the relabelings of the first ``num_devices`` devices that leave ``cluster`` unchanged.

  Row ``g`` maps device ``d`` to ``g[d]``; devices ``>= num_devices`` are fixed.
  The first row is the identity and the group is padded to S = min(D, 8)! rows
  with copies of it, so every group of a D-device cluster has one shape.

  The result is cached per cluster spec and count (8 devices: ~0.15 s to
  enumerate, paid once, not per pretraining batch) and is read-only. Per-device
  specs enter the cache key relative to their largest value, so a cluster whose
  memory was scaled uniformly (memory-pressure batches in pretraining) reuses
  its preset's entry.

  Raises:
    ValueError: ``num_devices`` is not in [1, min(D, :data:`MAX_DEVICES`)].
  """
  total = cluster.num_devices
  if not 1 <= num_devices <= min(total, MAX_DEVICES):
    raise ValueError(f"num_devices must be in [1, {min(total, MAX_DEVICES)}] for canonical device labels on "
                     f"cluster {cluster.name!r}, got {num_devices}")
  kinds = tuple(cluster.device_kinds) if cluster.device_kinds else ("",) * total
  specs = tuple(_relative(np.asarray(getattr(cluster, field), np.float64)).tobytes() for field in _PER_DEVICE)
  specs += tuple(np.asarray(getattr(cluster, field), np.float64).tobytes() for field in _LINKS)
  return _automorphisms(kinds, specs, total, int(num_devices))


def _relative(values: np.ndarray) -> np.ndarray:
  """``values`` over their largest (unchanged when that is not finite and positive); comparisons are relative."""
  top = values.max(initial=0.0)
  return values / top if np.isfinite(top) and top > 0 else values


@functools.lru_cache(maxsize=64)
def _automorphisms(kinds: tuple[str, ...], specs: tuple[bytes, ...], total: int, n: int) -> np.ndarray:
  """:func:`device_automorphisms` of a cluster given by its kinds and the raw bytes of its specs."""
  perms = _permutations(n)
  keep = np.ones(len(perms), bool)
  kind_array = np.asarray(kinds[:n])
  keep &= np.all(kind_array[perms] == kind_array, axis=1)
  for field, raw in zip(_PER_DEVICE + _LINKS, specs):
    values = np.frombuffer(raw, np.float64)
    if field in _LINKS:
      values = values.reshape(total, total)[:n, :n]
      permuted = values[perms[:, :, None], perms[:, None, :]]  # (P, n, n): values[p][:, p]
      keep &= np.all(np.isclose(permuted, values, rtol=1e-6, atol=0.0), axis=(1, 2))
    else:
      values = values[:n]
      keep &= np.all(np.isclose(values[perms], values, rtol=1e-6, atol=0.0), axis=1)
  group = np.tile(np.arange(total, dtype=np.int32), (math.factorial(min(total, MAX_DEVICES)), 1))
  found = perms[keep]
  group[: len(found), :n] = found
  group.flags.writeable = False
  return group


@functools.lru_cache(maxsize=MAX_DEVICES)
def _permutations(n: int) -> np.ndarray:
  """(n!, n) every permutation of range(n), the identity first (read-only, cached)."""
  perms = np.asarray(list(itertools.permutations(range(n))), np.int64).reshape(-1, n)
  perms.flags.writeable = False
  return perms


def canonical_placement(placement: jax.Array, leader: jax.Array, topo_rank: jax.Array, node_mask: jax.Array,
                        group: jax.Array) -> jax.Array:
  """The equivalent labeling of ``placement`` that is lexicographically smallest in topological order.

  Two relabelings ``g``, ``h`` of one placement first differ at the first
  node of some device, so comparing the placements is comparing the devices
  in order of first use: the one ``g`` that minimizes that sequence, read as
  a base-D number, gives the canonical placement ``g[placement]``.

  Args:
    placement: (Np,) int32 raw per-node devices (a colocated node's own entry is ignored).
    leader: (Np,) int32 node whose device each node takes (colocation).
    topo_rank: (Np,) int32 position of each node in topological order.
    node_mask: (Np,) bool, real nodes.
    group: (S, D) int32 relabelings (:func:`device_automorphisms`).

  Returns:
    (Np,) int32 ``g[placement]``, the raw placement relabeled (its effective
    placement, ``[leader]``, is the canonical one).
  """
  num_nodes = placement.shape[0]
  num_labels = group.shape[1]
  effective = placement[leader]
  position = jnp.where(node_mask, topo_rank, num_nodes)
  used = effective[:, None] == jnp.arange(num_labels)  # (Np, D)
  first_use = jnp.min(jnp.where(used, position[:, None], num_nodes), axis=0)  # (D,), Np: unused
  sequence = jnp.argsort(first_use, stable=True)  # devices by first use, then unused by label
  weights = num_labels ** jnp.arange(num_labels - 1, -1, -1, dtype=jnp.int32)  # D^D <= 8^8 fits int32
  keys = group[:, sequence] @ weights  # (S,)
  return group[jnp.argmin(keys)][placement]
