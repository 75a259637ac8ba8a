"""Tests of the graph IR core: construction, validation, derived views."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from go_jax.graph import graph as graph_lib
from go_jax.graph import ops


def diamond():
  """a -> b, a -> c, b -> d, c -> d, with FLOPs 1, 10, 3, 2.

  Levels: a=0, b=1, c=1, d=2. Heaviest path by FLOPs: a, b, d = 1 + 10 + 2 = 13.
  """
  b = graph_lib.GraphBuilder("diamond")
  a_ = b.add_node("a", "parameter", shape=(4, 4), flops=1, param_bytes=64)
  b_ = b.add_node("b", "dot", shape=(4, 4), flops=10)
  c_ = b.add_node("c", "elementwise", shape=(4,), dtype="bf16", flops=3)
  d_ = b.add_node("d", "reduce", shape=(), flops=2)
  for src, dst in ((a_, b_), (a_, c_), (b_, d_), (c_, d_)):
    b.add_edge(src, dst, 64)
  return b.build()


def test_diamond_views_by_hand():
  g = diamond()
  assert g.num_nodes == 4 and g.num_edges == 4
  np.testing.assert_array_equal(g.levels, [0, 1, 1, 2])
  assert g.depth == 3
  np.testing.assert_array_equal(g.topological_order, [0, 1, 2, 3])
  np.testing.assert_array_equal(g.in_degree, [0, 1, 1, 2])
  np.testing.assert_array_equal(g.out_degree, [2, 1, 1, 0])
  length, path = g.critical_path()
  assert length == 13.0
  np.testing.assert_array_equal(path, [0, 1, 3])
  # With c heavier, the path moves through c: 1 + 20 + 2 = 23.
  length, path = g.critical_path(np.array([1.0, 10.0, 20.0, 2.0]))
  assert length == 23.0
  np.testing.assert_array_equal(path, [0, 2, 3])


def test_builder_defaults_and_shapes():
  g = diamond()
  # (4, 4) f32 = 64 bytes; (4,) bf16 = 8 bytes; scalar f32 = 4 bytes.
  np.testing.assert_array_equal(g.output_bytes, [64, 64, 8, 4])
  np.testing.assert_array_equal(g.bytes_written, [64, 64, 8, 4])
  assert g.shape(0) == (4, 4) and g.shape(3) == ()
  assert g.op_type_name(1) == "dot" and g.dtype_name(2) == "bf16"
  assert ops.OP_CLASSES[g.op_class[1]] == "contraction"
  assert g.summary()["op_types"] == {"dot": 1, "elementwise": 1, "parameter": 1, "reduce": 1}
  assert g.summary()["param_bytes"] == 64.0


def test_graph_is_immutable():
  g = diamond()
  with pytest.raises(ValueError):
    g.flops[0] = 5.0
  with pytest.raises(AttributeError):
    g.name = "other"


def test_duplicate_edges_are_merged():
  b = graph_lib.GraphBuilder("dup")
  x, y = b.add_node("x", "parameter"), b.add_node("y", "elementwise")
  b.add_edge(x, y, 8)
  b.add_edge(x, y, 16)
  g = b.build()
  assert g.num_edges == 1 and g.edge_bytes[0] == 16


def test_unknown_op_maps_to_other_with_one_warning():
  messages = []
  b = graph_lib.GraphBuilder("unk", warn=messages.append)
  b.add_node("n0", "frobnicate")
  b.add_node("n1", "frobnicate")
  g = b.build()
  assert [g.op_type_name(i) for i in range(2)] == ["other", "other"]
  assert len(messages) == 1 and "frobnicate" in messages[0] and "n0" in messages[0]


def test_high_rank_shapes_are_folded():
  b = graph_lib.GraphBuilder("rank")
  b.add_node("t", "reshape", shape=(2,) * 10)  # rank 10 -> (2*2*2, 2, 2, 2, 2, 2, 2, 2)
  g = b.build()
  assert g.shape(0) == (8,) + (2,) * 7
  assert g.output_bytes[0] == 2**10 * 4


@pytest.mark.parametrize("field,value,message", [
    ("flops", -1.0, "flops is -1.0"),
    ("flops", np.nan, "flops is nan"),
    ("bytes_read", np.inf, "bytes_read is inf"),
    ("param_bytes", 1e300, "param_bytes is 1e\\+300, absurdly large"),
])
def test_bad_costs_name_the_node(field, value, message):
  b = graph_lib.GraphBuilder("bad")
  b.add_node("ok", "parameter")
  kwargs = {field: value}
  b.add_node("broken", "dot", **kwargs)
  with pytest.raises(graph_lib.GraphError, match=f"node 1 \\('broken'\\): {message}"):
    b.build()


def test_cycle_is_reported_with_its_nodes():
  b = graph_lib.GraphBuilder("cyc")
  x, y, z = (b.add_node(n, "dot") for n in "xyz")
  b.add_edge(x, y, 1)
  b.add_edge(y, z, 1)
  b.add_edge(z, y, 1)
  with pytest.raises(graph_lib.GraphError, match=r"cycle through node 2 \('z'\) -> node 1 \('y'\) -> node 2"):
    b.build()


def test_dangling_edges_self_loops_and_empty_graphs():
  base = diamond()
  fields = {f: getattr(base, f) for f in ("node_names", "op_type", "dtype", "rank", "dims", "flops",
                                          "bytes_read", "bytes_written", "output_bytes", "param_bytes",
                                          "colocation")}
  with pytest.raises(graph_lib.GraphError, match="edge 1: consumer id 7 out of range 0..3"):
    graph_lib.ComputationGraph(name="g", senders=[0, 0], receivers=[1, 7], edge_bytes=[1, 1], **fields)
  with pytest.raises(graph_lib.GraphError, match="edge 0: self-loop on node 2"):
    graph_lib.ComputationGraph(name="g", senders=[2], receivers=[2], edge_bytes=[1], **fields)
  with pytest.raises(graph_lib.GraphError, match="is empty"):
    graph_lib.GraphBuilder("empty").build()
  with pytest.raises(graph_lib.GraphError, match="edge 0 .*bytes is -5"):
    graph_lib.ComputationGraph(name="g", senders=[0], receivers=[1], edge_bytes=[-5], **fields)


def reference_levels(num_nodes, edges):
  """Readable longest-path levels: relax every edge until nothing changes."""
  level = [0] * num_nodes
  changed = True
  while changed:
    changed = False
    for u, v in edges:
      if level[v] < level[u] + 1:
        level[v] = level[u] + 1
        changed = True
  return level


def reference_critical_path(num_nodes, edges, weight):
  finish = list(weight)
  for _ in range(num_nodes):
    for u, v in edges:
      finish[v] = max(finish[v], finish[u] + weight[v])
  return max(finish)


@st.composite
def random_dags(draw):
  n = draw(st.integers(1, 30))
  edges = set()
  for v in range(1, n):
    preds = draw(st.lists(st.integers(0, v - 1), max_size=3))
    edges.update((u, v) for u in preds)
  perm = draw(st.permutations(range(n)))  # hide the construction order
  edges = sorted((perm[u], perm[v]) for u, v in edges)
  weight = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=n, max_size=n))
  return n, edges, weight


@settings(max_examples=200, deadline=None)
@given(random_dags())
def test_levels_topo_order_and_critical_path_match_reference(dag):
  n, edges, weight = dag
  b = graph_lib.GraphBuilder("rand")
  for i in range(n):
    b.add_node(f"n{i}", "elementwise", flops=weight[i])
  for u, v in edges:
    b.add_edge(u, v, 1)
  g = b.build()
  assert g.levels.tolist() == reference_levels(n, edges)
  position = {int(v): k for k, v in enumerate(g.topological_order)}
  assert all(position[u] < position[v] for u, v in edges)
  length, path = g.critical_path()
  assert length == pytest.approx(reference_critical_path(n, edges, weight))
  assert sum(weight[i] for i in path) == pytest.approx(length)
  assert all((int(a), int(b_)) in set(edges) for a, b_ in zip(path[:-1], path[1:]))
