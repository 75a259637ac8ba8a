"""Tests of the GraphSAGE encoder: a hand-checkable layer, padding isolation, jit == eager."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from go_jax.graph import features
from go_jax.models import gnn
from go_jax.models import synthetic_graphs

# Unit tests are dominated by XLA compile time: compile without LLVM optimisation.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0,
                                                    "xla_llvm_disable_expensive_passes": True})


def _layer_norm(x, scale, bias, eps=1e-6):
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * scale + bias


def _reference_sage_layer(params, nodes, edges, senders, receivers, num_real_nodes):
  """Readable per-node loop version of one SageLayer (real edges only)."""
  relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
  dense = lambda name, x: x @ params[name]["kernel"] + params[name]["bias"]  # noqa: E731
  hidden = nodes.shape[1]
  out = np.zeros_like(nodes)
  for v in range(num_real_nodes):
    # Messages from producers s (edges s -> v) and from consumers r (edges v -> r).
    msg_in = [relu(dense("message_in", np.concatenate([nodes[s], edges[k]])))
              for k, (s, r) in enumerate(zip(senders, receivers)) if r == v]
    msg_out = [relu(dense("message_out", np.concatenate([nodes[r], edges[k]])))
               for k, (s, r) in enumerate(zip(senders, receivers)) if s == v]
    parts = [nodes[v]]
    for msgs in (msg_in, msg_out):
      parts.append(np.mean(msgs, axis=0) if msgs else np.zeros(hidden))
      parts.append(np.max(msgs, axis=0) if msgs else np.zeros(hidden))
    # Order in the layer: [h, mean_in, max_in, mean_out, max_out].
    update = relu(dense("update", np.concatenate(parts)))
    out[v] = _layer_norm(nodes[v] + update, params["norm"]["scale"], params["norm"]["bias"])
  return out


def test_sage_layer_matches_numpy_reference_on_three_nodes():
  # Real graph: 0 -> 1, 0 -> 2, 1 -> 2. Node 3 is padding; edge 3 is a padding
  # edge deliberately wired 3 -> 1 (into a real node) with a huge feature: the
  # layer must ignore it.
  hidden, edge_size = 4, 2
  rng = np.random.default_rng(0)
  nodes = rng.normal(size=(4, hidden)).astype(np.float32)
  nodes[3] = 100.0
  edges = rng.normal(size=(4, edge_size)).astype(np.float32)
  edges[3] = 1e3
  senders = np.array([0, 0, 1, 3], np.int32)
  receivers = np.array([1, 2, 2, 1], np.int32)
  masks = gnn.GraphMasks(node_mask=jnp.array([True, True, True, False]),
                         edge_mask=jnp.array([True, True, True, False]))
  layer = gnn.SageLayer(hidden)
  variables = layer.init(jax.random.key(0), nodes, edges, senders, receivers, masks)
  got = np.asarray(layer.apply(variables, nodes, edges, senders, receivers, masks))
  params = jax.tree.map(np.asarray, variables["params"])
  expected = _reference_sage_layer(params, nodes, edges, senders[:3], receivers[:3], num_real_nodes=3)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  # Node 0 has no producers: its in-aggregates are 0 (not -inf).
  assert np.all(np.isfinite(got))
  # Padding node 3 is zeroed; the jitted layer agrees with the eager one.
  np.testing.assert_array_equal(got[3], 0.0)
  jitted = _jit(layer.apply)(variables, nodes, edges, senders, receivers, masks)
  np.testing.assert_allclose(jitted, got, rtol=1e-5, atol=1e-6)


@functools.cache
def _encoder_and_graph():
  graph = synthetic_graphs.random_graph(40, seed=1)
  graphs = features.to_graphs_tuple(graph, num_nodes=64, num_edges=128)
  encoder = gnn.GraphEncoder(hidden_size=8, edge_size=4, num_hops=2)
  variables = _jit(encoder.init)(jax.random.key(0), graphs)
  return graph, graphs, encoder, variables


def test_padding_never_leaks_into_real_nodes():
  graph, graphs, encoder, variables = _encoder_and_graph()
  n, e = graph.num_nodes, graph.num_edges
  rng = np.random.default_rng(2)
  nodes = dict(graphs.nodes)
  nodes["features"] = nodes["features"].copy()
  nodes["features"][n:] = rng.normal(size=nodes["features"][n:].shape) * 50
  nodes["op_type"] = nodes["op_type"].copy()
  nodes["op_type"][n:] = 5
  nodes["topo_rank"] = nodes["topo_rank"].copy()
  nodes["topo_rank"][n:] = 0
  edge_features = graphs.edges["features"].copy()
  edge_features[e:] = 1e3
  # Even padding edges wired to real nodes must be ignored.
  senders, receivers = graphs.senders.copy(), graphs.receivers.copy()
  senders[e:] = rng.integers(0, n, size=senders[e:].shape)
  receivers[e:] = rng.integers(0, n, size=receivers[e:].shape)
  noisy = graphs._replace(nodes=nodes, edges={"features": edge_features}, senders=senders,
                          receivers=receivers)
  apply = _jit(encoder.apply)
  clean_out, noisy_out = apply(variables, graphs), apply(variables, noisy)
  np.testing.assert_allclose(clean_out.node_embeddings[:n], noisy_out.node_embeddings[:n], atol=1e-6)
  np.testing.assert_allclose(clean_out.context, noisy_out.context, atol=1e-6)
  assert np.all(np.asarray(noisy_out.node_embeddings[n:]) == 0.0)


def test_graph_masks_agree_with_jraph():
  _, graphs, _, _ = _encoder_and_graph()
  masks = gnn.graph_masks(graphs)
  np.testing.assert_array_equal(masks.node_mask, jraph.get_node_padding_mask(graphs))
  np.testing.assert_array_equal(masks.edge_mask, jraph.get_edge_padding_mask(graphs))

