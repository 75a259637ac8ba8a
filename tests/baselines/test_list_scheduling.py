"""Hand-worked tests of HEFT, m-TOPO and m-ETF on a 5-node graph."""

import numpy as np
import pytest

from go_jax.baselines import list_scheduling
from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import reference


def five_nodes():
  """a -> b, a -> c, b -> d, c -> d; e independent. FLOPs a=2, b=3, c=3, d=1, e=4.

  On a device of 1 FLOP/s with efficiency 1, times equal FLOPs (seconds). Edges
  carry 0 bytes, so every cross-device copy costs the link latency, 1 s.
  Every node holds 10 parameter bytes.
  """
  b = graph_lib.GraphBuilder("five")
  for name, flops in zip("abcde", (2, 3, 3, 1, 4)):
    b.add_node(name, "dot", flops=flops, param_bytes=10, output_bytes=0)
  for src, dst in ((0, 1), (0, 2), (1, 3), (2, 3)):
    b.add_edge(src, dst, 0)
  return b.build()


def two_devices(capacity=1e12):
  return cluster_lib.make_cluster("toy", "gpu", peak_flops=1.0, mem_bandwidth=1e30, mem_capacity=capacity,
                                  launch_overhead=0.0, link_latency=np.ones((2, 2)),
                                  link_bandwidth=np.full((2, 2), 1e30), eff=1.0, eff_bw=1.0)


def test_upward_rank_by_hand():
  # rank(d) = 1; rank(b) = rank(c) = 3 + 1 (comm) + 1 = 5; rank(a) = 2 + 1 + 5 = 8; rank(e) = 4.
  g = five_nodes()
  costs = list_scheduling.cost_model(g, two_devices())
  np.testing.assert_allclose(list_scheduling.upward_rank(g, costs), [8, 5, 5, 1, 4])


def test_m_etf_by_hand():
  # 1. a, e ready, both can start at 0: a has the larger rank -> a on dev0 [0, 2].
  # 2. e can start on dev1 at 0 (b, c only at 2) -> e on dev1 [0, 4].
  # 3. b, c start on dev0 at 2 (dev1: 4); same rank, lower id -> b on dev0 [2, 5].
  # 4. c: dev0 at 5, dev1 at max(2 + 1, 4) = 4 -> c on dev1 [4, 7].
  # 5. d: dev0 at max(7 + 1, 5) = 8, dev1 at max(5 + 1, 7) = 7 -> d on dev1 [7, 8].
  g = five_nodes()
  schedule = list_scheduling.m_etf(g, two_devices())
  assert schedule.placement.tolist() == [0, 0, 1, 1, 1]
  assert schedule.finish_time == pytest.approx(8.0)
  # The priorities reproduce the scheduling order a, e, b, c, d.
  keys = reference.order_keys(g, schedule.priority)
  assert np.argsort(keys, kind="stable").tolist() == [0, 4, 1, 2, 3]


def test_heft_by_hand():
  # Order by rank: a(8), b(5), c(5), e(4), d(1).
  # a -> dev0 [0, 2]; b: dev0 ends 5, dev1 ends 3 + 3 = 6 -> dev0 [2, 5];
  # c: dev0 ends 8, dev1 ends 6 -> dev1 [3, 6]; e: dev0 ends 9, dev1 ends 10 -> dev0 [5, 9];
  # d: inputs on dev1 at max(5 + 1, 6) = 6 -> dev1 [6, 7]. Makespan 9.
  schedule = list_scheduling.heft(five_nodes(), two_devices())
  assert schedule.placement.tolist() == [0, 0, 1, 1, 0]
  assert schedule.finish_time == pytest.approx(9.0)


def test_m_topo_by_hand():
  # 50 bytes in all -> 25 per device. Topological order a, e, b, c, d:
  # a, e fill dev0 to 20; b would make 30 > 25 -> dev1; c, d follow on dev1 (last device).
  schedule = list_scheduling.m_topo(five_nodes(), two_devices())
  assert schedule.placement.tolist() == [0, 1, 1, 1, 0]


def test_m_etf_respects_memory():
  # Each device holds only 20 bytes = 2 nodes; 5 nodes of 10 bytes cannot all fit, but
  # no device may take a third node while the other still has room.
  schedule = list_scheduling.m_etf(five_nodes(), two_devices(capacity=30.0))
  counts = np.bincount(schedule.placement, minlength=2)
  assert counts.max() <= 3
