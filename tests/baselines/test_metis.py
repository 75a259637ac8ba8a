"""Tests of the METIS placement and its memory repair."""

import numpy as np

from go_jax.baselines import metis
from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib


def two_chains(param_bytes=10.0, coloc=False):
  """Two independent 4-node chains of equal cost joined by nothing: the min cut is 0."""
  b = graph_lib.GraphBuilder("chains")
  for chain in range(2):
    for k in range(4):
      i = b.add_node(f"c{chain}_{k}", "dot", flops=1e9, param_bytes=param_bytes, output_bytes=0,
                     colocation=(7 if coloc and k == 0 else -1))
      if k:
        b.add_edge(i - 1, i, 1e6)
  return b.build()


def cluster(d=2, capacity=1e12):
  return cluster_lib.make_cluster("toy", "gpu", peak_flops=1e12, mem_bandwidth=1e12, mem_capacity=capacity,
                                  launch_overhead=0.0, link_latency=np.full((d, d), 1e-5),
                                  link_bandwidth=np.full((d, d), 1e10))


def test_independent_chains_go_to_different_devices():
  placement = metis.metis_placement(two_chains(), cluster())
  # Balanced and zero cut: each chain whole on one device, the two chains apart.
  assert len(set(placement[:4].tolist())) == 1 and len(set(placement[4:].tolist())) == 1
  assert placement[0] != placement[4]


def test_colocation_groups_stay_together():
  placement = metis.metis_placement(two_chains(coloc=True), cluster())
  assert placement[0] == placement[4]


def test_memory_repair_moves_units_off_full_devices():
  # 8 nodes of 10 bytes; capacities 30 and 100: device 0 may hold at most 3 nodes.
  g = two_chains()
  small = cluster_lib.make_cluster("uneven", "gpu", peak_flops=1e12, mem_bandwidth=1e12,
                                   mem_capacity=np.array([30.0, 100.0]), launch_overhead=0.0,
                                   link_latency=np.full((2, 2), 1e-5), link_bandwidth=np.full((2, 2), 1e10))
  unit = np.arange(g.num_nodes)
  start = np.zeros(g.num_nodes, np.int64)  # everything on device 0: 80 > 30 bytes
  repaired = metis.repair_memory(g, small, unit, start)
  assert (repaired == 0).sum() * 10 <= 30
