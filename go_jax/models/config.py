"""Default configuration of the GO policy network.

Configs are ``ml_collections.ConfigDict`` s; :func:`go_jax.models.policy.make_policy`
turns one into a :class:`go_jax.models.policy.PolicyNetwork`. Override fields
from the command line of an experiment (``--config.model.hidden_size=64``),
never by mutating a shared config in library code.
"""

from __future__ import annotations

import ml_collections

#: Every task the policy can decide, in the order the recurrent task layers run.
ALL_TASKS = ("placement", "scheduling", "fusion")


def get_model_config() -> ml_collections.ConfigDict:
  """Returns the default model configuration.

  Fields:
    hidden_size: width of node embeddings and attention features.
    edge_size: width of the projected edge features used in GNN messages.
    gnn_hops: number of GraphSAGE message-passing layers (hops).
    num_attention_layers: Transformer-XL layers of the shared trunk.
    num_heads: attention heads (must divide ``hidden_size``).
    ffn_multiplier: feed-forward width of each attention layer, in units of
      ``hidden_size``.
    segment_length: nodes per segment of the topological sequence.
    memory_length: cached positions (from previous segments) each segment
      attends to, besides itself. 0 disables the recurrence.
    num_priority_levels: scheduling decides one of this many priority levels.
    max_devices: size of the placement head; the number of devices actually
      available is an input of the network (at most ``max_devices``).
    tasks: enabled tasks, a subset of :data:`ALL_TASKS`; they always run in
      the order of :data:`ALL_TASKS`.
    remat: rematerialise activations (per GNN hop and per segment) in the
      backward pass, trading compute for memory on large graphs.
    position_frequencies: sinusoidal frequencies of each node's absolute place in
      the topological order, projected and added to the trunk's input (0: off).
    node_logit_scale: > 0 adds free per-node logits (one vector per node and task,
      zero-initialised, times this scale) to the heads' logits, so the policy can
      represent any decision vector of *one* graph exactly (GO-one only: their shape
      is the graph's, so pretraining and transfer need 0). The scale sets their
      effective learning rate: the shared optimizer's step times this (0: off).
    cluster_context: feed the graph's cluster context (devices, and its single-device
      peak memory against their capacity: ``go_jax.graph.features.cluster_features``)
      into the graph context vector, so one policy can learn when a graph must be split.
    context_to_nodes: with ``cluster_context``, also add a projection of that context to
      every node's input embedding (before message passing), so each node's decision
      can depend on it directly, not only through the feature-modulation gates.
  """
  config = ml_collections.ConfigDict()
  config.hidden_size = 128
  config.edge_size = 16
  config.gnn_hops = 3
  config.num_attention_layers = 2
  config.num_heads = 4
  config.ffn_multiplier = 2
  config.segment_length = 256
  config.memory_length = 256
  config.num_priority_levels = 8
  config.max_devices = 8
  config.tasks = ALL_TASKS
  config.remat = True
  # Sinusoidal absolute position in the topological order added to the trunk's input
  # (policy.AbsolutePosition); 0 = off, as the shipped checkpoint was trained.
  config.position_frequencies = 0
  # Free per-node logits (GO-one only); 0 = off, as every stored result was run.
  config.node_logit_scale = 0.0
  # Cluster context in the graph context vector; off, as every stored result was run.
  config.cluster_context = False
  # The context added to every node's input too (with cluster_context); off, as above.
  config.context_to_nodes = False
  return config


def get_test_config() -> ml_collections.ConfigDict:
  """A tiny configuration for unit tests (seconds on one CPU core)."""
  config = get_model_config()
  config.hidden_size = 16
  config.edge_size = 4
  config.gnn_hops = 2
  config.num_attention_layers = 1
  config.num_heads = 2
  config.segment_length = 16
  config.memory_length = 16
  config.num_priority_levels = 4
  config.max_devices = 8
  return config
