"""The synthetic training-graph generator: determinism, validity, sizes, families, zoo statistics."""

import json

import numpy as np
import pytest

from go_jax.graph import graph as graph_lib
from go_jax.graph import ops
from go_jax.graph import synthetic


def _arrays(graph):
  return (graph.op_type, graph.dims, graph.flops, graph.bytes_read, graph.output_bytes, graph.param_bytes,
          graph.colocation, graph.senders, graph.receivers, graph.edge_bytes)


@pytest.mark.parametrize("family", synthetic.FAMILIES)
def test_same_seed_same_graph_other_seed_other_graph(family):
  first, again = synthetic.generate(3, 400, family), synthetic.generate(3, 400, family)
  assert first.node_names == again.node_names
  for a, b in zip(_arrays(first), _arrays(again)):
    np.testing.assert_array_equal(a, b)
  other = synthetic.generate(4, 400, family)
  assert (other.num_nodes, other.num_edges) != (first.num_nodes, first.num_edges) or not np.array_equal(
      other.flops, first.flops)


@pytest.mark.parametrize("family", synthetic.FAMILIES)
@pytest.mark.parametrize("size", [200, 1000, 4000])
def test_sizes_follow_the_request(family, size):
  graph = synthetic.generate(0, size, family)
  assert 0.6 * size <= graph.num_nodes <= 1.5 * size, graph.num_nodes
  assert graph.meta["family"] == family and graph.meta["source_format"] == "synthetic"


@pytest.mark.slow
def test_largest_sizes():
  graph = synthetic.generate(1, 20_000, "residual")
  assert 15_000 <= graph.num_nodes <= 25_000


@pytest.mark.parametrize("family", synthetic.FAMILIES)
def test_graphs_look_like_training_steps(family):
  graph = synthetic.generate(7, 800, family)
  # Validated by construction (GraphBuilder); re-validating a copy must not raise.
  graph_lib.ComputationGraph(**{f: getattr(graph, f) for f in (
      "name", "node_names", "op_type", "dtype", "rank", "dims", "flops", "bytes_read", "bytes_written",
      "output_bytes", "param_bytes", "colocation", "senders", "receivers", "edge_bytes")})
  hist = graph.op_histogram()
  assert hist.get("parameter", 0) > 0 and hist.get("dot", 0) + hist.get("conv", 0) > 0
  assert graph.flops.sum() > 0 and graph.param_bytes.sum() > 0
  # Parameters have no inputs, consume nothing and own their bytes.
  params = graph.op_type == ops.OP_TYPE_ID["parameter"]
  assert np.all(graph.in_degree[params] == 0) and np.all(graph.flops[params] == 0)
  # Output bytes agree with the shape, and edges carry their producer's output.
  elements = np.where(np.arange(graph_lib.MAX_RANK)[None] < graph.rank[:, None], graph.dims, 1).prod(axis=1)
  itemsize = np.asarray([ops.DTYPE_BYTES[ops.DTYPES[d]] for d in graph.dtype])
  np.testing.assert_allclose(graph.output_bytes, elements * itemsize)
  np.testing.assert_allclose(graph.edge_bytes, graph.output_bytes[graph.senders])
  # A training step: optimizer slots are colocated with their weights, and the backward pass reaches
  # far back (some edge spans more than a third of the depth).
  groups = graph.colocation[graph.colocation >= 0]
  assert groups.size and np.all(np.bincount(groups)[np.unique(groups)] == 3)
  span = graph.levels[graph.receivers] - graph.levels[graph.senders]
  assert span.max() > graph.depth / 3


def test_families_have_their_shapes():
  recurrent = synthetic.generate(0, 1500, "recurrent")
  layered = synthetic.generate(0, 1500, "layered")
  branching = synthetic.generate(0, 1500, "branching")
  # Branching blocks join 2-4 branches in a concatenation; layered graphs are chains of layers.
  fan_in = lambda g: np.sort(g.in_degree)[-20:].mean()  # pylint: disable=unnecessary-lambda-assignment
  assert fan_in(branching) > fan_in(layered)
  # Recurrent graphs reuse each weight at every time step: few parameters, many consumers each.
  params = lambda g: g.op_type == ops.OP_TYPE_ID["parameter"]  # pylint: disable=unnecessary-lambda-assignment
  assert graph_lib.ComputationGraph is type(recurrent)
  assert recurrent.out_degree[params(recurrent)].max() > 10 * layered.out_degree[params(layered)].max() / 2
  # Layered graphs are deeper for their size than branching ones.
  assert layered.depth > branching.depth


def test_sample_graphs_cover_families_and_sizes():
  graphs = list(synthetic.sample_graphs(5, 24, min_nodes=200, max_nodes=2000))
  assert {g.meta["family"] for g in graphs} == set(synthetic.FAMILIES)
  sizes = np.asarray([g.num_nodes for g in graphs])
  assert sizes.min() < 500 and sizes.max() > 1000
  assert len({g.name for g in graphs}) == len(graphs)
  again = synthetic.sample_graph(5, 7, min_nodes=200, max_nodes=2000)
  np.testing.assert_array_equal(again.flops, graphs[7].flops)


def test_statistics_round_trip_and_drive_the_op_mix(tmp_path):
  stats = synthetic.default_statistics()
  assert {"dot", "elementwise", "parameter"} <= set(stats.op_types)
  path = tmp_path / "stats.json"
  path.write_text(json.dumps(stats.to_dict()))
  assert synthetic.OpStatistics.from_dict(json.loads(path.read_text())) == stats
  # Statistics measured on one hand-built graph restrict contractions to its only type (conv).
  builder = graph_lib.GraphBuilder("tiny")
  w = builder.add_node("w", "parameter", shape=(64, 64), param_bytes=64 * 64 * 4)
  c = builder.add_node("c", "conv", shape=(8, 64), flops=1e6, bytes_read=1e4)
  builder.add_edge(w, c, 64 * 64 * 4)
  tiny = synthetic.measure_statistics([builder.build()])
  graph = synthetic.generate(0, 300, "layered", stats=tiny)
  contraction = [ops.OP_TYPES[t] for t in np.unique(graph.op_type) if ops.op_class(ops.OP_TYPES[t]) == "contraction"]
  assert contraction == ["conv"]
  np.testing.assert_allclose(graph.flops[graph.op_type == ops.OP_TYPE_ID["conv"]], 1e6, rtol=1e-4)  # 4-decimal log quantiles


def test_bad_arguments():
  with pytest.raises(ValueError, match="family"):
    synthetic.generate(0, 300, "transformer")
  with pytest.raises(ValueError, match="num_nodes"):
    synthetic.generate(0, 10)
