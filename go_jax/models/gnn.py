"""GraphSAGE-style graph encoder over the padded GraphsTuples of go_jax.graph.features.

One :class:`SageLayer` (one hop) updates every node ``v`` from its state
``h_v``, the edges into it (messages from producers) and the edges out of it
(messages from consumers)::

  m_in[k]  = relu(W_in  [h[senders[k]],   e[k]] + b_in)     for edge k: s -> v
  m_out[k] = relu(W_out [h[receivers[k]], e[k]] + b_out)    for edge k: v -> r
  a_v      = [mean_in(m_in), max_in(m_in), mean_out(m_out), max_out(m_out)]
  h'_v     = LayerNorm(h_v + relu(W_u [h_v, a_v] + b_u)) * node_mask[v]

Means and maxes over an empty neighbourhood are 0. Padding edges are rerouted
to the last padding node before aggregation and padding nodes are zeroed after
every layer, so padding never reaches a real node, whatever the padding holds.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from go_jax.graph import ops


class GraphMasks(NamedTuple):
  """Which entries of a padded single-graph GraphsTuple are real."""

  node_mask: jax.Array  # (Np,) bool, True for real nodes
  edge_mask: jax.Array  # (Ep,) bool, True for real edges


def graph_masks(graphs: jraph.GraphsTuple) -> GraphMasks:
  """Masks of a GraphsTuple padded by ``jraph.pad_with_graphs`` (last graph = padding).

  Same as ``jraph.get_node_padding_mask`` / ``get_edge_padding_mask`` for the
  single-graph tuples of ``to_graphs_tuple``, but also traceable when the
  GraphsTuple holds numpy arrays closed over by a jitted function.
  """
  n_node, n_edge = jnp.asarray(graphs.n_node), jnp.asarray(graphs.n_edge)
  num_nodes, num_edges = graphs.nodes["op_type"].shape[0], graphs.senders.shape[0]
  return GraphMasks(node_mask=jnp.arange(num_nodes) < num_nodes - n_node[-1],
                    edge_mask=jnp.arange(num_edges) < num_edges - n_edge[-1])


def _aggregate(messages: jax.Array, segment_ids: jax.Array, num_segments: int) -> jax.Array:
  """Mean and max of ``messages`` (E, F) per segment -> (num_segments, 2F); 0 where empty."""
  mean = jraph.segment_mean(messages, segment_ids, num_segments)
  maximum = jraph.segment_max(messages, segment_ids, num_segments)
  maximum = jnp.where(jnp.isfinite(maximum), maximum, 0.0)  # empty segments are -inf
  return jnp.concatenate([mean, maximum], axis=-1)


class SageLayer(nn.Module):
  """One GraphSAGE hop with mean+max aggregation over in- and out-edges.

  Attributes:
    hidden_size: width H of node states and messages.
  """

  hidden_size: int

  @nn.compact
  def __call__(self, nodes: jax.Array, edges: jax.Array, senders: jax.Array, receivers: jax.Array,
               masks: GraphMasks) -> jax.Array:
    """Updates node states.

    Args:
      nodes: (Np, H) float32 node states (zero at padding).
      edges: (Ep, He) float32 edge features.
      senders: (Ep,) int32 producer of each edge.
      receivers: (Ep,) int32 consumer of each edge.
      masks: real nodes/edges.

    Returns:
      (Np, H) float32 new node states, zero at padding nodes.
    """
    num_nodes = nodes.shape[0]
    # Padding edges go to the last node, which is always padding (to_graphs_tuple
    # pads with at least one node), so they cannot reach a real node.
    sink = num_nodes - 1
    senders = jnp.where(masks.edge_mask, senders, sink)
    receivers = jnp.where(masks.edge_mask, receivers, sink)
    message_in = nn.relu(nn.Dense(self.hidden_size, name="message_in")(
        jnp.concatenate([nodes[senders], edges], axis=-1)))
    message_out = nn.relu(nn.Dense(self.hidden_size, name="message_out")(
        jnp.concatenate([nodes[receivers], edges], axis=-1)))
    aggregated = jnp.concatenate([_aggregate(message_in, receivers, num_nodes),
                                  _aggregate(message_out, senders, num_nodes)], axis=-1)
    update = nn.relu(nn.Dense(self.hidden_size, name="update")(
        jnp.concatenate([nodes, aggregated], axis=-1)))
    updated = nn.LayerNorm(name="norm")(nodes + update)
    return updated * masks.node_mask[:, None]


class Encoding(NamedTuple):
  """Output of :class:`GraphEncoder` for one padded graph."""

  node_embeddings: jax.Array  # (Np, H) float32, zero at padding nodes
  context: jax.Array  # (H,) float32, graph context vector (pooled over real nodes)


class GraphEncoder(nn.Module):
  """Embeds op type, dtype and features, then runs ``num_hops`` :class:`SageLayer` s.

  Attributes:
    hidden_size: width H of node embeddings.
    edge_size: width of the projected edge features.
    num_hops: number of message-passing layers.
    remat: rematerialise each hop in the backward pass.
    cluster_context: also feed ``globals["cluster"]`` (the graph's memory need against the
      devices it may use, :func:`go_jax.graph.features.cluster_features`) into the context.
    context_to_nodes: with ``cluster_context``, also add ``Dense(globals["cluster"])`` to every
      node's input embedding.
  """

  hidden_size: int
  edge_size: int
  num_hops: int
  remat: bool = False
  cluster_context: bool = False
  context_to_nodes: bool = False

  @nn.compact
  def __call__(self, graphs: jraph.GraphsTuple) -> Encoding:
    """Encodes one padded graph from :func:`go_jax.graph.features.to_graphs_tuple`.

    Args:
      graphs: padded single-graph GraphsTuple (graph 0 real, last graph padding).

    Returns:
      Node embeddings and the graph context vector.
    """
    masks = graph_masks(graphs)
    node_mask = masks.node_mask[:, None]
    op_embedding = nn.Embed(ops.NUM_OP_TYPES, self.hidden_size, name="op_type_embed")
    dtype_embedding = nn.Embed(len(ops.DTYPES), self.hidden_size, name="dtype_embed")
    op_type = jnp.clip(graphs.nodes["op_type"], 0, ops.NUM_OP_TYPES - 1)
    dtype = jnp.clip(graphs.nodes["dtype"], 0, len(ops.DTYPES) - 1)
    nodes = (op_embedding(op_type) + dtype_embedding(dtype)
             + nn.Dense(self.hidden_size, name="feature_proj")(graphs.nodes["features"]))
    if self.cluster_context and self.context_to_nodes:
      nodes = nodes + nn.Dense(self.hidden_size, name="cluster_proj")(graphs.globals["cluster"][0])
    nodes = nn.LayerNorm(name="input_norm")(nodes) * node_mask
    edges = nn.relu(nn.Dense(self.edge_size, name="edge_proj")(graphs.edges["features"]))
    edges = edges * masks.edge_mask[:, None]
    layer_cls = nn.remat(SageLayer) if self.remat else SageLayer
    for hop in range(self.num_hops):
      nodes = layer_cls(self.hidden_size, name=f"sage_{hop}")(
          nodes, edges, graphs.senders, graphs.receivers, masks)
    pooled = masked_mean(nodes, masks.node_mask)
    graph_features = graphs.globals["features"][0]  # graph 0 is the real graph
    if self.cluster_context:
      graph_features = jnp.concatenate([graph_features, graphs.globals["cluster"][0]])
    context = nn.relu(nn.Dense(self.hidden_size, name="context")(
        jnp.concatenate([pooled, graph_features], axis=-1)))
    return Encoding(node_embeddings=nodes, context=context)


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
  """Mean of ``values`` (N, F) over rows where ``mask`` (N,) is True -> (F,)."""
  weights = mask.astype(values.dtype)
  return (values * weights[:, None]).sum(axis=0) / jnp.maximum(weights.sum(), 1.0)
