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


def build(name, flops, edges, param_bytes=None):
  """Nodes a, b, c, ... of the given FLOPs (seconds on the toy device), 0-byte edges."""
  b = graph_lib.GraphBuilder(name)
  param_bytes = param_bytes or [10] * len(flops)
  for k, (f, p) in enumerate(zip(flops, param_bytes)):
    b.add_node("abcdefgh"[k], "dot", flops=f, param_bytes=p, output_bytes=0)
  for src, dst in edges:
    b.add_edge(src, dst, 0)
  return b.build()


def fork_join():
  """a -> b, a -> d, b -> d; c and e independent. Times a=b=c=d=1 s, e=2 s; copies 1 s."""
  return build("fork_join", (1, 1, 1, 1, 2), ((0, 1), (0, 3), (1, 3)))


def test_favorite_children_by_hand():
  # fork_join ranks: d = 1, b = 1 + 1 + 1 = 3, a = 1 + 1 + 3 = 5, c = 1, e = 2.
  # Decreasing rank a, b, e, c, d: a takes its higher-ranked child b, b takes d; c, d, e have no child.
  g = fork_join()
  costs = list_scheduling.cost_model(g, two_devices())
  assert list_scheduling.favorite_children(g, costs).tolist() == [1, 3, -1, -1, -1]
  # A child has at most one favorite parent: in `waiting` (below) a and c both feed d (rank 4);
  # a (rank 7, lower id than c) claims d, c gets none.
  g = waiting()
  costs = list_scheduling.cost_model(g, two_devices())
  assert list_scheduling.favorite_children(g, costs).tolist() == [3, -1, -1, -1, -1]


def test_m_sct_keeps_favorite_children_with_their_parents():
  # Favorite children a -> b -> d. Every step starts the earliest (node, device) pair; ties go to a
  # favorite child on its favorite parent's device, then to the larger rank.
  # 1. a, c, e start at 0 anywhere: a (rank 5) on dev0 [0, 1].
  # 2. dev0 waits for b (starts there at 1, on dev1 at 2); c, e are urgent (no inputs), so they may
  #    use it, but they start earlier on dev1: e (rank 2 > 1) on dev1 [0, 2].
  # 3. b and c both start at 1 on dev0: b is a's favorite child -> b on dev0 [1, 2].
  # 4. c and d both start at 2 on dev0: d is b's favorite child -> d on dev0 [2, 3].
  # 5. c: dev0 at 3, dev1 at 2 -> dev1 [2, 3]. Makespan 3.
  g = fork_join()
  schedule = list_scheduling.m_sct(g, two_devices())
  assert schedule.placement.tolist() == [0, 0, 1, 0, 1]
  assert schedule.finish_time == pytest.approx(3.0)
  keys = reference.order_keys(g, schedule.priority)
  assert np.argsort(keys, kind="stable").tolist() == [0, 4, 1, 3, 2]
  # m-ETF breaks step 4's tie by rank (c = d = 1), then lower id: c on dev0 [2, 3], d on dev0 [3, 4].
  assert list_scheduling.m_etf(g, two_devices()).finish_time == pytest.approx(4.0)


def waiting():
  """a -> b, a -> d, c -> d; e independent. Times a=b=c=e=2 s, d=4 s; copies 1 s."""
  return build("waiting", (2, 2, 2, 4, 2), ((0, 1), (0, 3), (2, 3)))


def test_m_sct_device_waits_for_the_favorite_child():
  # Ranks: b = e = 2, d = 4, a = c = 2 + 1 + 4 = 7. Favorite child: a -> d.
  # 1. a, c, e start at 0: a (rank 7, lower id than c) on dev0 [0, 2].
  # 2. c on dev1 [0, 2] (start 0 beats 2). d is now ready: inputs on dev0 at max(2, 2 + 1) = 3, dev1 at 3.
  # 3. dev0 ran a and d starts earliest there (3, tied) -> dev0 is awake for d: only urgent nodes may
  #    use it. b's input reaches every device at 2 + 1 = 3 > 2, its start on dev0: b is not urgent and
  #    may not take dev0 at 2; e (no inputs) may -> e on dev0 [2, 4].
  # 4. b and d start on dev1 at 3 (dev0 at 4): d (rank 4) on dev1 [3, 7].
  # 5. b on dev0 [4, 6]. Makespan 7.
  g = waiting()
  schedule = list_scheduling.m_sct(g, two_devices())
  assert schedule.placement.tolist() == [0, 0, 1, 1, 0]
  assert schedule.finish_time == pytest.approx(7.0)
  # m-ETF (no waiting): step 3 starts b (rank 2 = e, lower id) on dev0 [2, 4]; then e on dev1 [2, 4];
  # d starts at 4 on either device -> dev0 [4, 8]. Makespan 8.
  etf = list_scheduling.m_etf(g, two_devices())
  assert etf.placement.tolist() == [0, 0, 1, 0, 1]
  assert etf.finish_time == pytest.approx(8.0)


def test_m_sct_respects_memory():
  # fork_join with d holding 20 bytes and 35 bytes per device: a, b, d (40 bytes) no longer fit on
  # dev0. Steps 1-3 as without a limit (a, b on dev0: 20 bytes; e on dev1: 10 bytes). Step 4: d
  # fits only dev1, so dev0 is not awake for it; c starts at 2 on either device -> dev0 [2, 3]
  # (30 bytes). Step 5: d on dev1 at max(2 + 1, 2) = 3 -> [3, 4] (30 bytes). Makespan 4.
  g = build("fork_join_memory", (1, 1, 1, 1, 2), ((0, 1), (0, 3), (1, 3)), param_bytes=(10, 10, 10, 20, 10))
  schedule = list_scheduling.m_sct(g, two_devices(capacity=35.0))
  assert schedule.placement.tolist() == [0, 0, 0, 1, 1]
  assert schedule.finish_time == pytest.approx(4.0)
  assert list_scheduling.m_sct(g, two_devices()).placement.tolist() == [0, 0, 1, 0, 1]  # unconstrained
