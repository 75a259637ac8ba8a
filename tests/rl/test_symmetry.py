"""Canonical device labels: cluster automorphisms, hand cases, a reference check, step-time invariance."""

import itertools

import jax
import numpy as np
import pytest

from go_jax.rl import symmetry
import simulator
from simulator import bench as simulator_bench
from simulator import cluster as cluster_lib


def group_of(cluster_name, num_devices):
  """The distinct relabelings as a set of tuples over the first ``num_devices`` devices."""
  group = symmetry.device_automorphisms(cluster_lib.get_cluster(cluster_name), num_devices)
  return {tuple(int(x) for x in row[:num_devices]) for row in group}, group


def canonical(placement, cluster_name, num_devices, topo_rank=None, leader=None, num_real=None):
  placement = np.asarray(placement, np.int32)
  n = len(placement)
  num_real = n if num_real is None else num_real
  _, group = group_of(cluster_name, num_devices)
  out = symmetry.canonical_placement(
      placement, np.arange(n, dtype=np.int32) if leader is None else np.asarray(leader, np.int32),
      np.arange(n, dtype=np.int32) if topo_rank is None else np.asarray(topo_rank, np.int32),
      np.arange(n) < num_real, group)
  return np.asarray(out).tolist()


def test_automorphism_groups_of_the_presets():
  # Uniform, fully connected clusters: every permutation of the devices used.
  rows, group = group_of("a100x8", 8)
  assert len(rows) == 40320 and group.shape == (40320, 8)
  rows, group = group_of("a100x8", 3)
  assert rows == set(itertools.permutations(range(3)))
  assert group.shape == (40320, 8) and np.all(group[:, 3:] == np.arange(3, 8))  # unused devices fixed
  assert group_of("k80x2", 2)[0] == {(0, 1), (1, 0)}
  # DGX-1V quad: (0, 3) and (1, 2) are double NVLinks; relabelings must keep that matching.
  rows, group = group_of("v100x4", 4)
  assert group.shape == (24, 4) and tuple(group[0]) == (0, 1, 2, 3)
  assert rows == {(0, 1, 2, 3), (3, 1, 2, 0), (0, 2, 1, 3), (3, 2, 1, 0),
                  (1, 0, 3, 2), (2, 0, 3, 1), (1, 3, 0, 2), (2, 3, 0, 1)}
  assert len(group_of("v100x4", 2)[0]) == 2  # one single link: the swap only
  # A host CPU next to the GPUs is not interchangeable with them.
  with_host = cluster_lib.with_host(cluster_lib.get_cluster("p100x4"))
  group = symmetry.device_automorphisms(with_host, 5)
  assert len({tuple(row) for row in group}) == 24 and np.all(group[:, 4] == 4)


def test_bad_device_count_is_rejected():
  with pytest.raises(ValueError, match=r"num_devices must be in \[1, 4\].*'v100x4', got 5"):
    symmetry.device_automorphisms(cluster_lib.get_cluster("v100x4"), 5)


def test_hand_cases():
  # Any relabeling allowed: devices numbered by first use in topological order.
  assert canonical([2, 2, 0, 3], "p100x4", 4) == [0, 0, 1, 2]
  assert canonical([2, 2, 0, 3], "p100x4", 4, topo_rank=[3, 2, 1, 0]) == [2, 2, 1, 0]
  assert canonical([1, 1, 1], "p100x4", 4) == [0, 0, 0]
  # DGX-1V quad: the double-linked pair (1, 2) becomes the double-linked pair (0, 3), not (0, 1);
  # the single-linked pair (1, 0) becomes the single-linked pair (0, 1).
  assert canonical([1, 2, 1], "v100x4", 4) == [0, 3, 0]
  assert canonical([1, 0, 1], "v100x4", 4) == [0, 1, 0]
  # Colocation: node 1 takes node 0's device, so its own entry does not decide the labels.
  out = canonical([3, 1, 2], "p100x4", 4, leader=[0, 0, 2])
  assert [out[0], out[0], out[2]] == [0, 0, 1]  # effective placement [3, 3, 2] -> [0, 0, 1]
  # Padding nodes do not count as first uses.
  assert canonical([3, 3, 1], "p100x4", 4, num_real=2)[:2] == [0, 0]


def reference_canonical(placement, leader, topo_rank, num_real, group):
  """Readable reference: try every relabeling, keep the smallest effective placement in topological order."""
  order = sorted(range(num_real), key=lambda i: topo_rank[i])
  best = None
  for row in {tuple(int(x) for x in g) for g in group}:
    sequence = tuple(row[placement[leader[i]]] for i in order)
    best = sequence if best is None or sequence < best else best
  out = [0] * num_real
  for position, node in enumerate(order):
    out[node] = best[position]
  return out


@pytest.mark.parametrize("cluster_name,num_devices", [("p100x4", 4), ("v100x4", 4), ("v100x8", 8),
                                                      ("v100x8", 4), ("h100x8", 3)])
def test_matches_the_reference_on_random_placements(cluster_name, num_devices):
  rng = np.random.default_rng(num_devices)
  group = symmetry.device_automorphisms(cluster_lib.get_cluster(cluster_name), num_devices)
  fast = jax.jit(symmetry.canonical_placement)
  for _ in range(20):
    num_nodes, num_real = 12, int(rng.integers(1, 13))
    placement = rng.integers(0, num_devices, num_nodes).astype(np.int32)
    leader = np.arange(num_nodes, dtype=np.int32)
    for i in range(1, num_real):  # some nodes colocated with an earlier real node
      if rng.random() < 0.3:
        leader[i] = leader[int(rng.integers(0, i))]
    topo_rank = rng.permutation(num_nodes).astype(np.int32)
    out = np.asarray(fast(placement, leader, topo_rank, np.arange(num_nodes) < num_real, group))
    assert out[leader][:num_real].tolist() == reference_canonical(placement, leader, topo_rank, num_real, group)


@pytest.mark.parametrize("cluster_name", ["v100x4", "a100x8"])
def test_canonical_labels_keep_the_step_time(cluster_name):
  cluster = cluster_lib.get_cluster(cluster_name)
  graph = simulator_bench.random_graph(60, seed=3)
  group = symmetry.device_automorphisms(cluster, cluster.num_devices)
  rng = np.random.default_rng(0)
  n = graph.num_nodes
  for _ in range(3):
    placement = rng.integers(0, cluster.num_devices, n).astype(np.int32)
    topo_rank = np.empty(n, np.int32)
    topo_rank[graph.topological_order] = np.arange(n, dtype=np.int32)
    relabeled = np.asarray(symmetry.canonical_placement(placement, np.arange(n, dtype=np.int32), topo_rank,
                                                        np.ones(n, bool), group))
    assert not np.array_equal(relabeled, placement)  # a random placement is rarely canonical already
    times = [simulator.simulate_reference(graph, cluster, simulator.default_decisions(n, p))[0].step_time
             for p in (placement, relabeled)]
    np.testing.assert_allclose(times[0], times[1], rtol=1e-6)
