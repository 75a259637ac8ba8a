"""The GO policy: GNN encoder, Transformer-XL trunk, recurrent joint-task heads.

One forward pass decides every node at once (non-autoregressive)::

  graph --GraphEncoder--> node embeddings (Np, H), context (H,)
        --topological order--> sequence (Np, H)
        --SegmentRecurrentStack (trunk, gated by context)--> z_0
  for each enabled task t, in the order placement, scheduling, fusion:
        z_t = TaskLayer(z_{t-1} + task_embed[t] + action_embed[t-1](a_{t-1}))   (shared params)
        a_t ~ Categorical(head_t(z_t))                                          (per node)

The task layer is one Transformer-XL layer whose parameters are shared across
tasks (recurrent attention); its residual connection carries z_{t-1}. Each
stack of layers is modulated by a gate vector computed from the graph context
(parameter superposition).

Decisions for disabled tasks are the documented defaults, with log-prob and
entropy 0: placement on device 0, priority level 0 for every node (all equal,
so the scheduler's FIFO order decides), no fusion (0).

Shapes: ``Np`` is the padded node count of the GraphsTuple (from
:func:`go_jax.graph.features.to_graphs_tuple`), ``B`` a batch of graphs padded
to the same bucket and stacked with :func:`stack_graphs`.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import ml_collections
import numpy as np

from go_jax.models import attention
from go_jax.models import config as config_lib
from go_jax.models import gnn

_MASKED_LOGIT = -1e9
_TASK_INDEX = {task: index for index, task in enumerate(config_lib.ALL_TASKS)}


class Decisions(NamedTuple):
  """One value per node and task; int32 actions or float32 log-probs/entropies.

  Values are 0 at padding nodes and for disabled tasks.
  """

  placement: jax.Array  # (Np,) device id in [0, num_devices)
  priority: jax.Array  # (Np,) priority level in [0, num_priority_levels); higher runs first
  fusion: jax.Array  # (Np,) 1 = fuse the op with its neighbours, 0 = keep it a kernel of its own


class PolicyOutput(NamedTuple):
  """Output of :class:`PolicyNetwork` for one graph (add a leading B when batched)."""

  actions: Decisions  # (Np,) int32 each
  log_prob: Decisions  # (Np,) float32 each, log-probability of the action; 0 at padding/disabled
  entropy: Decisions  # (Np,) float32 each, entropy (nats) of the node's distribution; 0 likewise
  value: jax.Array  # () float32, state-value estimate of the graph (PPO baseline)


def joint_log_prob(log_prob: Decisions) -> jax.Array:
  """(..., Np) log-probability of all of a node's decisions (sum over tasks)."""
  return log_prob.placement + log_prob.priority + log_prob.fusion


def topological_order(topo_rank: jax.Array, node_mask: jax.Array) -> jax.Array:
  """(Np,) int32 node ids sorted by topological rank; padding nodes last, by id.

  Args:
    topo_rank: (Np,) int32 rank of each real node (padding values are ignored).
    node_mask: (Np,) bool, True for real nodes.
  """
  num_nodes = topo_rank.shape[0]
  ids = jnp.arange(num_nodes, dtype=jnp.int32)
  key = jnp.where(node_mask, topo_rank.astype(jnp.int32), num_nodes + ids)
  return jnp.argsort(key).astype(jnp.int32)


def _categorical_stats(logits: jax.Array, actions: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Log-prob of ``actions`` (..., L) and entropy, both (..., L), of categoricals ``logits`` (..., L, C)."""
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  chosen = jnp.take_along_axis(log_probs, actions[..., None], axis=-1)[..., 0]
  entropy = -(jnp.exp(log_probs) * log_probs).sum(axis=-1)  # masked classes: 0 * (-1e9) = 0
  return chosen, entropy


class AbsolutePosition(nn.Module):
  """(Np, H) embedding of each node's absolute place in the topological order.

  The attention sees relative positions only, and the node features carry
  position as one scalar (relative level), so nodes of repeated layers look
  alike. Placements that split a model by layer (the human experts') need the
  absolute place: ``p = index / num_real`` in [0, 1), encoded as
  ``sin, cos(pi 2^k p)`` for ``k < frequencies``, projected to H, zero at padding.
  """

  hidden_size: int
  frequencies: int

  @nn.compact
  def __call__(self, sequence_mask: jax.Array) -> jax.Array:
    num_real = jnp.maximum(sequence_mask.sum(), 1)
    place = jnp.arange(sequence_mask.shape[0]) / num_real  # (Np,)
    angles = jnp.pi * place[:, None] * (2.0 ** jnp.arange(self.frequencies))[None, :]
    encoding = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
    return nn.Dense(self.hidden_size)(encoding) * sequence_mask[:, None]


class PolicyNetwork(nn.Module):
  """The GO policy and value network for one padded graph. Build it with :func:`make_policy`.

  Attributes: see :func:`go_jax.models.config.get_model_config`.
  """

  hidden_size: int
  edge_size: int
  gnn_hops: int
  num_attention_layers: int
  num_heads: int
  ffn_multiplier: int
  segment_length: int
  memory_length: int
  num_priority_levels: int
  max_devices: int
  tasks: tuple[str, ...]
  remat: bool = False
  position_frequencies: int = 0
  node_logit_scale: float = 0.0
  cluster_context: bool = False
  context_to_nodes: bool = False

  def _stack(self, num_layers: int, name: str) -> attention.SegmentRecurrentStack:
    return attention.SegmentRecurrentStack(
        num_layers=num_layers, num_heads=self.num_heads, hidden_size=self.hidden_size,
        segment_length=self.segment_length, memory_length=self.memory_length,
        ffn_multiplier=self.ffn_multiplier, remat=self.remat, name=name)

  @nn.compact
  def __call__(self, graphs: jraph.GraphsTuple, num_devices: jax.Array, rng: jax.Array | None = None,
               actions: Decisions | None = None, num_samples: int | None = None) -> PolicyOutput:
    """Decides every node of one graph, for one or ``num_samples`` decision vectors.

    Three modes: with ``actions``, evaluates those actions (log-probs and
    entropies for PPO; ``rng`` is ignored); otherwise samples with ``rng``, or
    takes the most likely action of every node when ``rng`` is None (greedy).

    The encoder, the trunk, the value and the first enabled task's logits do
    not depend on the sampled actions, so they run once per graph however many
    decision vectors are sampled or evaluated; only the later tasks' layers
    (which read the previous task's action) run once per vector.

    Args:
      graphs: one padded graph from :func:`go_jax.graph.features.to_graphs_tuple`.
      num_devices: () int32, devices available, clipped to [1, max_devices];
        placement never picks a device >= num_devices.
      rng: PRNG key for sampling, or None for greedy decoding.
      actions: decisions to evaluate, in node order: (Np,) int32 each, or
        (K, Np) int32 each for K vectors at once.
      num_samples: static K; when given (or when ``actions`` are (K, Np)) the
        outputs carry a leading (K,) axis (``value`` stays ()); greedy
        decoding repeats the argmax K times.

    Returns:
      The decisions, their log-probs and entropies, and the value estimate.
    """
    unknown = set(self.tasks) - set(config_lib.ALL_TASKS)
    if unknown:
      raise ValueError(f"unknown tasks {sorted(unknown)}; valid: {config_lib.ALL_TASKS}")
    batched = num_samples is not None or (actions is not None and jnp.ndim(actions.placement) == 2)
    if actions is not None:
      actions = jax.tree.map(lambda x: jnp.asarray(x).reshape((-1, x.shape[-1])), actions)  # (K, Np)
      num_vectors = actions.placement.shape[0]
      if num_samples is not None and num_samples != num_vectors:
        raise ValueError(f"num_samples {num_samples} != {num_vectors} action vectors")
    else:
      num_vectors = 1 if num_samples is None else int(num_samples)
    masks = gnn.graph_masks(graphs)
    encoding = gnn.GraphEncoder(self.hidden_size, self.edge_size, self.gnn_hops, remat=self.remat,
                                cluster_context=self.cluster_context, context_to_nodes=self.context_to_nodes,
                                name="encoder")(graphs)
    order = topological_order(graphs.nodes["topo_rank"], masks.node_mask)
    inverse = jnp.argsort(order)
    sequence = encoding.node_embeddings[order]  # (Np, H), topological order
    sequence_mask = masks.node_mask[order]
    if self.position_frequencies:
      sequence = sequence + AbsolutePosition(self.hidden_size, self.position_frequencies,
                                             name="absolute_position")(sequence_mask)

    num_gates = self.num_attention_layers + len(config_lib.ALL_TASKS)
    # Zero-initialised so every gate starts at exactly 1 (no modulation).
    gates = 1.0 + jnp.tanh(nn.Dense(num_gates * self.hidden_size, kernel_init=nn.initializers.zeros,
                                    name="modulation")(encoding.context))
    gates = gates.reshape(num_gates, self.hidden_size)
    trunk = self._stack(self.num_attention_layers, "trunk")(
        sequence, sequence_mask, gates[: self.num_attention_layers])

    value_features = jnp.concatenate([encoding.context, gnn.masked_mean(trunk, sequence_mask)])
    value = nn.Dense(1, name="value_out")(nn.relu(nn.Dense(self.hidden_size, name="value_hidden")(
        value_features)))[0]

    # One module called once per task (shared params), over a leading axis of
    # decision vectors: 1 for the first enabled task (its input is the same for
    # every vector), K after it. nn.vmap with broadcast params keeps the
    # parameter tree of the unbatched layer.
    task_layer = nn.vmap(attention.SegmentRecurrentStack, in_axes=(0, None, None), out_axes=0,
                         variable_axes={"params": None}, split_rngs={"params": False})(
                             num_layers=1, num_heads=self.num_heads, hidden_size=self.hidden_size,
                             segment_length=self.segment_length, memory_length=self.memory_length,
                             ffn_multiplier=self.ffn_multiplier, remat=self.remat, name="task_layer")
    task_embedding = nn.Embed(len(config_lib.ALL_TASKS), self.hidden_size, name="task_embed")
    num_classes = {"placement": self.max_devices, "scheduling": self.num_priority_levels, "fusion": 2}
    num_devices = jnp.clip(jnp.asarray(num_devices, jnp.int32), 1, self.max_devices)
    keys = jax.random.split(rng, len(config_lib.ALL_TASKS)) if rng is not None else None
    num_nodes = sequence.shape[0]
    zeros_int = jnp.zeros((num_vectors, num_nodes), jnp.int32)
    zeros_float = jnp.zeros((num_vectors, num_nodes), jnp.float32)
    chosen, log_probs, entropies = {}, {}, {}
    state = trunk[None]  # (1, Np, H) until the first action, (K, Np, H) after
    previous_action = jnp.zeros_like(state)
    for task in config_lib.ALL_TASKS:
      index = _TASK_INDEX[task]
      if task not in self.tasks:
        chosen[task], log_probs[task], entropies[task] = zeros_int, zeros_float, zeros_float
        continue
      state = task_layer(state + task_embedding(jnp.asarray(index)) + previous_action, sequence_mask,
                         gates[self.num_attention_layers + index][None])
      # Small initial logits: the untrained policy is close to uniform.
      logits = nn.Dense(num_classes[task], kernel_init=nn.initializers.normal(0.01), name=f"{task}_head")(
          nn.LayerNorm(name=f"{task}_head_norm")(state))  # (1 or K, Np, classes)
      if self.node_logit_scale:
        # Free per-node logits (GO-one only: their shape is this graph's), in topological order;
        # zero at init, so they change nothing until trained. The scale turns the shared
        # optimizer's step on the parameter into a step of that many times the size on the logit.
        free = self.param(f"{task}_node_logits", nn.initializers.zeros, (num_nodes, num_classes[task]))
        logits = logits + self.node_logit_scale * free[None]
      if task == "placement":
        logits = jnp.where(jnp.arange(self.max_devices) < num_devices, logits, _MASKED_LOGIT)
      logits = jnp.broadcast_to(logits, (num_vectors,) + logits.shape[1:])
      if actions is not None:
        action = task_field(actions, task)[:, order].astype(jnp.int32)
      elif keys is not None:
        action = jax.random.categorical(keys[index], logits, axis=-1).astype(jnp.int32)
      else:
        action = jnp.argmax(logits, axis=-1).astype(jnp.int32)
      action = jnp.where(sequence_mask, action, 0)  # (K, Np)
      log_prob, entropy = _categorical_stats(logits, action)
      # Back to node order for the output; padding entries are 0.
      chosen[task] = action[:, inverse]
      log_probs[task] = jnp.where(sequence_mask, log_prob, 0.0)[:, inverse]
      entropies[task] = jnp.where(sequence_mask, entropy, 0.0)[:, inverse]
      previous_action = nn.Embed(num_classes[task], self.hidden_size, name=f"{task}_action_embed")(action)

    def decisions(values):
      if not batched:
        values = {name: value[0] for name, value in values.items()}
      return Decisions(placement=values["placement"], priority=values["scheduling"], fusion=values["fusion"])

    return PolicyOutput(actions=decisions(chosen), log_prob=decisions(log_probs),
                        entropy=decisions(entropies), value=value)


def task_field(decisions: Decisions, task: str) -> jax.Array:
  """The field of ``decisions`` that ``task`` decides (``"scheduling"``: ``priority``)."""
  return {"placement": decisions.placement, "scheduling": decisions.priority,
          "fusion": decisions.fusion}[task]


def make_policy(config: ml_collections.ConfigDict) -> PolicyNetwork:
  """Builds the network from a config of :func:`go_jax.models.config.get_model_config`."""
  if config.hidden_size % config.num_heads:
    raise ValueError(f"hidden_size {config.hidden_size} is not divisible by num_heads {config.num_heads}")
  return PolicyNetwork(
      hidden_size=config.hidden_size, edge_size=config.edge_size, gnn_hops=config.gnn_hops,
      num_attention_layers=config.num_attention_layers, num_heads=config.num_heads,
      ffn_multiplier=config.ffn_multiplier, segment_length=config.segment_length,
      memory_length=config.memory_length, num_priority_levels=config.num_priority_levels,
      max_devices=config.max_devices, tasks=tuple(config.tasks), remat=config.remat,
      position_frequencies=int(config.get("position_frequencies", 0)),
      node_logit_scale=float(config.get("node_logit_scale", 0.0)),
      cluster_context=bool(config.get("cluster_context", False)),
      context_to_nodes=bool(config.get("context_to_nodes", False)))


# ---------------------------------------------------------------------------
# Pure functions on one graph, and their batched versions (the only vmap).
# ---------------------------------------------------------------------------


def init_params(network: PolicyNetwork, rng: jax.Array, graphs: jraph.GraphsTuple):
  """Initialises parameters from one (unbatched) example graph."""
  init_rng, sample_rng = jax.random.split(rng)
  return network.init(init_rng, graphs, jnp.int32(network.max_devices), sample_rng)


def sample(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
           rng: jax.Array) -> PolicyOutput:
  """Samples decisions for one graph; see :meth:`PolicyNetwork.__call__`."""
  return network.apply(params, graphs, num_devices, rng)


def evaluate(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
             actions: Decisions) -> PolicyOutput:
  """Log-probs and entropies of given ``actions`` (node order) for one graph."""
  return network.apply(params, graphs, num_devices, None, actions)


def greedy(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array) -> PolicyOutput:
  """The most likely decision of every node of one graph."""
  return network.apply(params, graphs, num_devices)


def sample_batch(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
                 rng: jax.Array) -> PolicyOutput:
  """:func:`sample` over a batch: graphs (B, ...), num_devices (B,), one key -> outputs (B, ...)."""
  keys = jax.random.split(rng, num_devices.shape[0])
  return jax.vmap(functools.partial(sample, network, params))(graphs, num_devices, keys)


def evaluate_batch(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
                   actions: Decisions) -> PolicyOutput:
  """:func:`evaluate` over a batch: actions (B, Np) each."""
  return jax.vmap(functools.partial(evaluate, network, params))(graphs, num_devices, actions)


def greedy_batch(network: PolicyNetwork, params, graphs: jraph.GraphsTuple,
                 num_devices: jax.Array) -> PolicyOutput:
  """:func:`greedy` over a batch."""
  return jax.vmap(functools.partial(greedy, network, params))(graphs, num_devices)


def sample_many(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
                rng: jax.Array, num_samples: int) -> PolicyOutput:
  """``num_samples`` decision vectors for one graph: outputs (K, Np), value (); the encoder runs once."""
  return network.apply(params, graphs, num_devices, rng, num_samples=num_samples)


def evaluate_many(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
                  actions: Decisions) -> PolicyOutput:
  """Log-probs and entropies of (K, Np) ``actions`` for one graph: outputs (K, Np), value ()."""
  return network.apply(params, graphs, num_devices, None, actions)


def sample_graphs(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
                  rng: jax.Array, num_samples: int) -> PolicyOutput:
  """:func:`sample_many` over G graphs: graphs (G, ...), num_devices (G,) -> outputs (G, K, Np), value (G,)."""
  keys = jax.random.split(rng, num_devices.shape[0])
  return jax.vmap(functools.partial(sample_many, network, params, num_samples=num_samples))(
      graphs, num_devices, keys)


def evaluate_graphs(network: PolicyNetwork, params, graphs: jraph.GraphsTuple, num_devices: jax.Array,
                    actions: Decisions) -> PolicyOutput:
  """:func:`evaluate_many` over G graphs: actions (G, K, Np) each -> outputs (G, K, Np), value (G,)."""
  return jax.vmap(functools.partial(evaluate_many, network, params))(graphs, num_devices, actions)


class BatchedPolicy(NamedTuple):
  """Jitted batched entry points of one network (params are an argument)."""

  sample: Callable[..., PolicyOutput]  # (params, graphs, num_devices (B,), rng) -> PolicyOutput (B, ...)
  evaluate: Callable[..., PolicyOutput]  # (params, graphs, num_devices (B,), actions) -> PolicyOutput (B, ...)
  greedy: Callable[..., PolicyOutput]  # (params, graphs, num_devices (B,)) -> PolicyOutput (B, ...)


def make_batched(network: PolicyNetwork) -> BatchedPolicy:
  """Jits the batched functions of ``network`` (one compilation per bucket and batch size)."""
  return BatchedPolicy(sample=jax.jit(functools.partial(sample_batch, network)),
                       evaluate=jax.jit(functools.partial(evaluate_batch, network)),
                       greedy=jax.jit(functools.partial(greedy_batch, network)))


def stack_graphs(graphs: Sequence[jraph.GraphsTuple]) -> jraph.GraphsTuple:
  """Stacks padded GraphsTuples of identical shapes along a new leading batch axis."""
  shapes = {tuple(np.shape(leaf) for leaf in jax.tree.leaves(g)) for g in graphs}
  if len(shapes) != 1:
    raise ValueError("graphs must be padded to the same sizes to be batched "
                     "(pass num_nodes/num_edges to to_graphs_tuple)")
  return jax.tree.map(lambda *leaves: np.stack(leaves), *graphs)
