"""Hand-checked tests of the scheduling and fusion baselines."""

import numpy as np
import pytest

from go_jax.baselines import fusion
from go_jax.baselines import scheduling
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib
from simulator import reference


def one_device():
  return cluster_lib.make_cluster("one", "gpu", peak_flops=1.0, mem_bandwidth=1e30, mem_capacity=1e12,
                                  launch_overhead=0.0, link_latency=np.zeros((1, 1)),
                                  link_bandwidth=np.ones((1, 1)), eff=1.0, eff_bw=1.0)


def fork():
  """s -> a1 -> a2 (long branch, 1 + 5 s), s -> b (1 s); a2 and b feed t.

  Levels: s 0; a1, b 1; a2 2; t 3.
  """
  b = graph_lib.GraphBuilder("fork")
  s = b.add_node("s", "parameter", flops=0)
  bb = b.add_node("b", "dot", flops=1)
  a1 = b.add_node("a1", "dot", flops=1)
  a2 = b.add_node("a2", "dot", flops=5)
  t = b.add_node("t", "elementwise", flops=1)
  for src, dst in ((s, a1), (s, bb), (a1, a2), (a2, t), (bb, t)):
    b.add_edge(src, dst, 0)
  return b.build()


def run_order(graph, cluster, priority):
  placement = np.zeros(graph.num_nodes, np.int32)
  decisions = simulator.Decisions(placement, priority, np.zeros(graph.num_nodes, bool))
  _, trace = reference.simulate_reference(graph, cluster, decisions)
  return trace.device_order[0]


def test_level_order_runs_level_by_level():
  # Equal priorities: keys follow levels, ties by index: s, b (id 1), a1 (id 2), a2, t.
  g = fork()
  assert run_order(g, one_device(), scheduling.level_order(g, one_device(), None)) == [0, 1, 2, 3, 4]


def test_critical_path_runs_the_long_branch_first():
  # Upward ranks: a1 = 1 + 5 + 1 = 7 > b = 1 + 1 = 2, so a1 and a2 come before b.
  g = fork()
  priority = scheduling.critical_path(g, one_device(), None)
  assert run_order(g, one_device(), priority) == [0, 2, 3, 1, 4]


def test_fifo_matches_the_dynamic_ready_queue():
  # On one device FIFO runs ready kernels by arrival: s; then b and a1 both ready at 0
  # (ties: index) -> b, a1; a2 ready at 2; t last.
  g = fork()
  priority = scheduling.tf_fifo(g, one_device(), np.zeros(5, np.int32))
  assert run_order(g, one_device(), priority) == [0, 1, 2, 3, 4]


def test_xla_fusion_requests_single_use_cheap_producers():
  b = graph_lib.GraphBuilder("xla")
  x = b.add_node("x", "parameter")
  m = b.add_node("m", "dot", flops=10)
  e = b.add_node("e", "elementwise", flops=1)
  r = b.add_node("r", "reshape")
  u = b.add_node("u", "elementwise", flops=1)  # two consumers: not fusible
  y = b.add_node("y", "dot", flops=10)
  z = b.add_node("z", "elementwise", flops=1)
  for src, dst in ((x, m), (m, e), (e, r), (r, u), (u, y), (u, z)):
    b.add_edge(src, dst, 4)
  assert fusion.xla_fusion(b.build()).tolist() == [False, False, True, True, False, False, False]


def test_xla_fusion_caps_operands_per_kernel_like_xla_gpu():
  # x0..x4 parameters; a1 = x0 + x1, a_k = a_{k-1} + x_k, y = dot(a4). By hand, cap 4 (operands + output):
  # a1 -> a2: a2 would read x0, x1, x2 (3 + 1 <= 4): fused; a2 -> a3: x0..x3 (4 + 1 > 4): refused;
  # a3 -> a4: a2, x3, x4 (3 + 1): fused; a4 -> y: y reads a2, x3, x4 (3 + 1): fused.
  b = graph_lib.GraphBuilder("chain")
  x = [b.add_node(f"x{k}", "parameter") for k in range(5)]
  adds = [b.add_node(f"a{k}", "elementwise", flops=1) for k in range(1, 5)]
  y = b.add_node("y", "dot", flops=10)
  b.add_edge(x[0], adds[0], 4)
  for k, a in enumerate(adds):
    b.add_edge(x[k + 1], a, 4)
    if k:
      b.add_edge(adds[k - 1], a, 4)
  b.add_edge(adds[-1], y, 4)
  g = b.build()
  requests = fusion.xla_fusion(g, max_operands=4)
  assert [bool(requests[a]) for a in adds] == [True, False, True, True]
  assert fusion.xla_fusion(g, max_operands=10**6)[adds].all()
  assert fusion.xla_fusion(g)[adds].all()  # XLA's 64 is far above this chain
  with pytest.raises(ValueError, match="max_operands must be >= 2"):
    fusion.xla_fusion(g, max_operands=1)


def test_fuse_all_leaves_legality_to_the_simulator():
  # fork() on one device, launch 0.5 s. Requested everywhere; legal: b -> t only (s has two consumers,
  # a1 -> a2 would put two dots in one kernel, a2 -> t loses to b, t's first contraction child).
  # Kernels s 0.5, a1 1.5, a2 5.5, {b, t} (1 + 1) + 0.5 = 2.5: 10 s in a row (unfused: 10.5 s).
  from go_jax import evaluation  # pylint: disable=g-import-not-at-top
  from go_jax.baselines import registry  # pylint: disable=g-import-not-at-top
  g = fork()
  cluster = cluster_lib.make_cluster("one", "gpu", peak_flops=1.0, mem_bandwidth=1e30, mem_capacity=1e12,
                                     launch_overhead=0.5, link_latency=np.zeros((1, 1)),
                                     link_bandwidth=np.ones((1, 1)), eff=1.0, eff_bw=1.0)
  output = registry.METHODS["fuse_all"](evaluation.Problem(g, cluster, budget=0, seed=0))
  decisions = output.decisions
  assert decisions.fusion.all() and not decisions.placement.any() and output.evaluations == 1
  result, trace = reference.simulate_reference(g, cluster, decisions)
  assert trace.fused.tolist() == [False, True, False, False, False]
  assert result.step_time == pytest.approx(10.0)
  unfused = simulator.Decisions(decisions.placement, decisions.priority, fusion.no_fusion(g))
  assert reference.simulate_reference(g, cluster, unfused)[0].step_time == pytest.approx(10.5)


def test_fuse_all_keeps_the_faster_of_one_device_and_the_expert():
  # Two independent 5 s dots: one device 10 s, the expert's split 5 s.
  from go_jax import evaluation  # pylint: disable=g-import-not-at-top
  from go_jax.baselines import registry  # pylint: disable=g-import-not-at-top
  b = graph_lib.GraphBuilder("pair")
  b.add_node("a", "dot", flops=5)
  b.add_node("b", "dot", flops=5)
  g = b.build()
  two = cluster_lib.make_cluster("two", "gpu", peak_flops=1.0, mem_bandwidth=1e30, mem_capacity=1e12,
                                 launch_overhead=0.0, link_latency=np.zeros((2, 2)),
                                 link_bandwidth=np.ones((2, 2)), eff=1.0, eff_bw=1.0)
  output = registry.METHODS["fuse_all"](evaluation.Problem(g, two, budget=0, seed=0,
                                                           expert=np.array([0, 1], np.int32)))
  assert output.decisions.placement.tolist() == [0, 1] and output.evaluations == 2
  assert output.notes == "on the expert placement"


def test_greedy_fusion_never_worse_than_xla_and_respects_budget():
  g = fork()
  cluster = one_device()
  placement = np.zeros(g.num_nodes, np.int32)
  priority = np.zeros(g.num_nodes, np.float32)
  requests, used = fusion.greedy_fusion(g, cluster, placement, priority, budget=4)
  assert used <= 4

  def step(req):
    return simulator.simulate_reference(g, cluster, simulator.Decisions(placement, priority, req))[0].step_time
  assert step(requests) <= step(fusion.xla_fusion(g))
