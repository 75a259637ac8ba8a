"""Hand-worked tests of the reference simulator (the spec) on 2-6 node graphs.

Clusters from ``graphs.unit_cluster``: a node's time is its FLOPs (1 FLOP/s),
a copy takes ``latency + bytes / bandwidth`` = ``1 + bytes`` seconds.
"""

import numpy as np
import pytest

from simulator import reference
from simulator import types
from tests.simulator import graphs


def _run(graph, cluster, placement, priority=None, fusion=None, policy=reference.IN_ORDER):
  n = graph.num_nodes
  decisions = types.Decisions(np.asarray(placement), np.zeros(n) if priority is None else np.asarray(priority),
                              np.zeros(n, bool) if fusion is None else np.asarray(fusion, bool))
  return reference.simulate_reference(graph, cluster, decisions, policy)


def diamond():
  # a -> b, a -> c, b -> d, c -> d; times a=1, b=2, c=3, d=1; outputs 4, 2, 3, 1 bytes.
  nodes = [graphs.node("a", 1, 4), graphs.node("b", 2, 2), graphs.node("c", 3, 3), graphs.node("d", 1, 1)]
  return graphs.build(nodes, [(0, 1, 4), (0, 2, 4), (1, 3, 2), (2, 3, 3)])


def test_serialization_on_one_device():
  result, trace = _run(diamond(), graphs.unit_cluster(2), [0, 0, 0, 0])
  # Level order a, b, c, d: a 0-1, b 1-3, c 3-6, d 6-7.
  np.testing.assert_allclose(trace.start, [0, 1, 3, 6])
  np.testing.assert_allclose(trace.finish, [1, 3, 6, 7])
  assert result.step_time == 7.0
  np.testing.assert_allclose(result.busy_time, [7, 0])
  # Live at t=3: a (4, until c ends at 6) + b (2) + c (3) = 9; at 6 a is freed before d allocs.
  np.testing.assert_allclose(result.peak_memory, [9, 0])
  assert result.bytes_moved == 0.0
  assert not result.oom.any()


def test_cross_device_copy():
  # a (1 s, 2 bytes) on device 0 -> b (2 s, 1 byte) on device 1; the copy takes 1 + 2 = 3 s.
  graph = graphs.build([graphs.node("a", 1, 2), graphs.node("b", 2, 1)], [(0, 1, 2)])
  result, trace = _run(graph, graphs.unit_cluster(2), [0, 1])
  assert trace.copies == {(0, 1): (1.0, 4.0)}
  np.testing.assert_allclose(trace.start, [0, 4])
  assert result.step_time == 6.0
  assert result.bytes_moved == 2.0
  # Device 0: a's output lives 0-4 (until its copy ends). Device 1: the copy (2 B) 1-6 plus b (1 B) 4-6.
  np.testing.assert_allclose(result.peak_memory, [2, 3])


def contention_graph():
  # a (1 s) and b (2 s) on device 0 both feed c (1 s) on device 1; copies: a 1+2 = 3 s, b 1+1 = 2 s.
  nodes = [graphs.node("a", 1, 2), graphs.node("b", 2, 1), graphs.node("c", 1, 0)]
  return graphs.build(nodes, [(0, 2, 2), (1, 2, 1)])


def test_link_contention():
  result, trace = _run(contention_graph(), graphs.unit_cluster(2), [0, 0, 1])
  # Device 0: a 0-1, b 1-3. Link 0->1 in producer-key order: a's copy 1-4, b's copy waits: 4-6.
  assert trace.copies == {(0, 1): (1.0, 4.0), (1, 1): (4.0, 6.0)}
  # c starts at 6 (without contention b's copy would end at 5).
  assert trace.start[2] == 6.0
  assert result.step_time == 7.0


def test_priorities_change_the_order():
  # Same graph, b gets priority 1 (key 0.5 < a's 1): device 0 runs b 0-2, a 2-3;
  # the link sends b's copy first (2-4), then a's (4-7); c runs 7-8.
  result, trace = _run(contention_graph(), graphs.unit_cluster(2), [0, 0, 1], priority=[0, 1, 0])
  np.testing.assert_allclose(trace.key, [1.0, 0.5, 2.0])  # c: max(1, 0.5) + 1
  np.testing.assert_allclose(trace.start, [2, 0, 7])
  assert trace.copies == {(1, 1): (2.0, 4.0), (0, 1): (4.0, 7.0)}
  assert result.step_time == 8.0
  assert trace.device_order[0] == [1, 0]


def memory_bound_chain(second_device=0):
  # x -> y, both memory-bound on a 1 B/s device: x reads 4, writes 4 (8 s); y the same.
  nodes = [dict(name="x", op_type="elementwise", flops=0.0, bytes_read=4.0, output_bytes=4.0),
           dict(name="y", op_type="elementwise", flops=0.0, bytes_read=4.0, output_bytes=4.0)]
  return graphs.build(nodes, [(0, 1, 4)])


def test_fusion_removes_traffic_and_memory():
  graph = memory_bound_chain()
  cluster = graphs.unit_cluster(1, mem_bandwidth=1.0)
  unfused, _ = _run(graph, cluster, [0, 0])
  # Unfused: 8 + 8 = 16 s; x's output (4 B) lives 0-16 and y's 8-16: peak 8 B.
  assert unfused.step_time == 16.0
  np.testing.assert_allclose(unfused.peak_memory, [8])
  fused, trace = _run(graph, cluster, [0, 0], fusion=[1, 0])
  # Fused: external bytes = 16 - (x's write 4 + y's read 4) = 8 -> 8 s; only y's output: 4 B.
  np.testing.assert_array_equal(trace.fused, [True, False])
  np.testing.assert_array_equal(trace.root, [1, 1])
  assert fused.step_time == 8.0
  np.testing.assert_allclose(fused.peak_memory, [4])
  np.testing.assert_allclose(fused.busy_time, [8])


def test_fusion_with_launch_overhead_saves_one_launch():
  graph = memory_bound_chain()
  cluster = graphs.unit_cluster(1, mem_bandwidth=1.0, launch=0.5)
  assert _run(graph, cluster, [0, 0])[0].step_time == 17.0  # 8.5 + 8.5
  assert _run(graph, cluster, [0, 0], fusion=[1, 0])[0].step_time == 8.5


def test_illegal_fusion_ignored():
  cluster = graphs.unit_cluster(2, mem_bandwidth=1.0)
  graph = memory_bound_chain()
  # Different devices: ignored (x 0-8, copy 8-13 (1 + 4 B), y 13-21).
  plain, _ = _run(graph, cluster, [0, 1])
  requested, trace = _run(graph, cluster, [0, 1], fusion=[1, 1])
  assert not trace.fused.any()
  assert requested.step_time == plain.step_time == 21.0
  # Two consumers: a's request is ignored.
  result, trace = _run(diamond(), graphs.unit_cluster(1), [0] * 4, fusion=[1, 0, 0, 0])
  assert not trace.fused.any()
  assert result.step_time == 7.0


def test_at_most_one_contraction_per_kernel():
  # dot1 -> e -> dot2, all requesting fusion: e takes dot1 (one contraction); dot2 refuses e.
  nodes = [graphs.node("dot1", 2, 1, "dot"), graphs.node("e", 1, 1), graphs.node("dot2", 2, 1, "dot")]
  graph = graphs.build(nodes, [(0, 1, 1), (1, 2, 1)])
  result, trace = _run(graph, graphs.unit_cluster(1), [0, 0, 0], fusion=[1, 1, 1])
  np.testing.assert_array_equal(trace.fused, [True, False, False])
  np.testing.assert_array_equal(trace.root, [1, 1, 2])
  np.testing.assert_allclose(trace.duration, [0, 3, 2])  # kernel {dot1, e}: 2 + 1 FLOPs
  assert result.step_time == 5.0


def test_oom():
  result, _ = _run(diamond(), graphs.unit_cluster(1, capacity=8.0), [0] * 4)
  np.testing.assert_allclose(result.peak_memory, [9])
  assert result.oom.tolist() == [True]


def test_parameters_resident_all_step():
  nodes = [graphs.node("a", 1, 1, param_bytes=100.0), graphs.node("b", 1, 1, param_bytes=10.0)]
  result, _ = _run(graphs.build(nodes, [(0, 1, 1)]), graphs.unit_cluster(2), [0, 1])
  # Device 0: 100 + a's output 1; device 1: 10 + the copy (1 B) + b's output (1 B).
  np.testing.assert_allclose(result.peak_memory, [101, 12])


def test_fifo_order_as_priorities_reproduces_schedule():
  rng = np.random.default_rng(0)
  graph = graphs.random_dag(rng, 30)
  cluster = graphs.unit_cluster(1)
  fifo, trace = _run(graph, cluster, np.zeros(30, int), policy=reference.FIFO)
  order = trace.device_order[0]
  in_order, again = _run(graph, cluster, np.zeros(30, int),
                         priority=reference.priorities_from_order(graph, order))
  assert again.device_order[0] == order
  assert in_order.step_time == fifo.step_time


@pytest.mark.parametrize("seed", range(40))
def test_fifo_order_as_priorities_is_exact_on_several_devices(seed):
  # FIFO's per-device orders, merged by start time (level breaks zero-time ties), become keys;
  # the in-order run then repeats FIFO's schedule exactly: a link (s, d) only carries outputs of
  # device s, which finish in the order they ran there, so link order agrees too.
  rng = np.random.default_rng(seed)
  n, num_devices = int(rng.integers(5, 40)), int(rng.integers(2, 5))
  graph = graphs.random_dag(rng, n)
  cluster = graphs.unit_cluster(num_devices)
  placement = rng.integers(0, num_devices, n)
  fifo, trace = _run(graph, cluster, placement, policy=reference.FIFO)
  order = np.lexsort((np.arange(n), graph.levels, trace.start))
  in_order, again = _run(graph, cluster, placement, priority=reference.priorities_from_order(graph, order))
  assert again.device_order == trace.device_order
  np.testing.assert_allclose(in_order.step_time, fifo.step_time, rtol=1e-12)
  np.testing.assert_allclose(in_order.peak_memory, fifo.peak_memory, rtol=1e-12)


def test_bad_decisions():
  with pytest.raises(ValueError, match="placement 5"):
    _run(diamond(), graphs.unit_cluster(2), [0, 0, 5, 0])


def test_a_weight_is_not_counted_twice():
  # w: a parameter of 100 bytes (resident all step) whose output is itself; m = w @ x, 10 bytes.
  # One device: resident 100, plus live tensors: w's output adds nothing on its own device,
  # m's 10 bytes -> peak 110 (counting w's output as well would give 210).
  # Two devices (w on 0, m on 1): the copy of w to device 1 carries all 100 bytes (1 + 100 s):
  # device 1 holds the copy (100) and m (10) at m's start -> 110; device 0 holds 100.
  g = graphs.build([dict(name="w", op_type="parameter", flops=0, output_bytes=100, param_bytes=100),
                    graphs.node("m", 2, 10)], [(0, 1, 100)])
  result, _ = _run(g, graphs.unit_cluster(2), [0, 0])
  np.testing.assert_allclose(result.peak_memory, [110, 0])
  result, _ = _run(g, graphs.unit_cluster(2), [0, 1])
  np.testing.assert_allclose(result.peak_memory, [100, 110])
