"""Networks of HDP (Mirhoseini et al., ICLR 2018): the feed-forward grouper and the seq2seq placer.

The layer shapes follow TensorFlow's public implementation
(``tensorflow/python/grappler/hierarchical_controller.py``):

* **Grouper**: per-op feed-forward network (one hidden layer of
  ``grouping_hidden_size`` units) over the op's features, then a softmax over
  ``num_groups`` groups. Every op samples its group independently.
* **Group embedding** (not learned): for each group, its rows of the group
  adjacency matrix (edges to and from every other group), the count of member
  ops of each op type and the sum of the members' features, normalised by the
  row's maximum + 1 (as in grappler).
* **Placer**: a bidirectional LSTM encoder (``hidden_size / 2`` units per
  direction) over the group embeddings, and an LSTM decoder (``hidden_size``
  units) that emits one device per group, fed the embedding of the previous
  device (a learned "go" embedding first), with additive content-based
  attention over the encoder states. Device logits are
  ``tanh(logits / temperature) * tanh_constant``.

Sampling is made reproducible and re-evaluable by drawing all randomness up
front into a :class:`PolicyNoise`: Gumbel noise for categorical sampling
(Gumbel-max) and unit Gaussian noise for grappler's exploration noise on the
logits (``logits_std_noise * rms(logits) * z``). Calling the policy again with
the same noise and the sampled actions as ``forced`` actions (teacher
forcing, grappler's ``"target"`` mode) reproduces the log-probabilities.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from go_jax.graph import ops


class PolicyInputs(NamedTuple):
  """Static per-graph inputs of the HDP policy (padded to the graph's node/edge bucket).

  ``Np``/``Ep`` are the padded node/edge counts, ``F`` the op feature width.
  """

  op_features: jax.Array  # (Np, F) float32, op features (see hdp.policy_inputs)
  op_type: jax.Array  # (Np,) int32, op type vocabulary id
  node_mask: jax.Array  # (Np,) bool, True for real ops
  senders: jax.Array  # (Ep,) int32, producer op of each edge
  receivers: jax.Array  # (Ep,) int32, consumer op of each edge
  edge_mask: jax.Array  # (Ep,) bool, True for real edges


class PolicyNoise(NamedTuple):
  """All randomness of one joint sample, drawn before the forward pass."""

  group_gumbel: jax.Array  # (Np, G) float32, Gumbel(0, 1) for sampling groups
  group_normal: jax.Array  # (Np, G) float32, N(0, 1) exploration noise on group logits
  device_gumbel: jax.Array  # (G, D) float32, Gumbel(0, 1) for sampling devices
  device_normal: jax.Array  # (G, D) float32, N(0, 1) exploration noise on device logits


class Actions(NamedTuple):
  """One joint sample of the hierarchical policy."""

  groups: jax.Array  # (Np,) int32, group of each op (padding ops: arbitrary)
  group_devices: jax.Array  # (G,) int32, device of each group


def draw_noise(key: jax.Array, num_nodes: int, num_groups: int, num_devices: int) -> PolicyNoise:
  """Draws the noise of one joint sample.

  Args:
    key: PRNG key.
    num_nodes: padded op count Np.
    num_groups: G.
    num_devices: D.
  """
  k1, k2, k3, k4 = jax.random.split(key, 4)
  return PolicyNoise(
      group_gumbel=jax.random.gumbel(k1, (num_nodes, num_groups)),
      group_normal=jax.random.normal(k2, (num_nodes, num_groups)),
      device_gumbel=jax.random.gumbel(k3, (num_groups, num_devices)),
      device_normal=jax.random.normal(k4, (num_groups, num_devices)))


def _perturb(logits: jax.Array, normal: jax.Array, noise_std: jax.Array) -> jax.Array:
  """grappler's exploration noise: ``logits + noise_std * rms(logits) * z`` (z treated as constant)."""
  rms = jnp.sqrt(jnp.mean(jnp.square(logits)))
  return logits + jax.lax.stop_gradient(noise_std * rms) * normal


def _lstm(x, carry, w, forget_bias):
  """grappler's LSTM cell: ``ifog = [x, h] @ w``; returns the new (c, h)."""
  c, h = carry
  i, f, o, g = jnp.split(jnp.concatenate([x, h], axis=-1) @ w, 4, axis=-1)
  c = jax.nn.sigmoid(i) * jnp.tanh(g) + jax.nn.sigmoid(f + forget_bias) * c
  h = jax.nn.sigmoid(o) * jnp.tanh(c)
  return c, h


def group_embeddings(groups: jax.Array, inputs: PolicyInputs, num_groups: int) -> jax.Array:
  """HDP's group embeddings of one grouping (not learned).

  Args:
    groups: (Np,) int32 group of each op.
    inputs: the graph's policy inputs.
    num_groups: G.

  Returns:
    (G, 2 G + NUM_OP_TYPES + F + 1) float32: [edges to each group, edges from
    each group, member count per op type, sum of member op features, member
    count], each row divided by (its maximum + 1) as in grappler.
  """
  node_weight = inputs.node_mask.astype(jnp.float32)
  edge_weight = inputs.edge_mask.astype(jnp.float32)
  src, dst = groups[inputs.senders], groups[inputs.receivers]
  adjacency = jnp.zeros((num_groups, num_groups), jnp.float32).at[src, dst].add(edge_weight)
  members = jax.nn.one_hot(groups, num_groups, dtype=jnp.float32) * node_weight[:, None]  # (Np, G)
  type_counts = members.T @ jax.nn.one_hot(inputs.op_type, ops.NUM_OP_TYPES, dtype=jnp.float32)
  feature_sums = members.T @ inputs.op_features
  sizes = members.sum(axis=0)[:, None]
  embedding = jnp.concatenate([adjacency, adjacency.T, type_counts, feature_sums, sizes], axis=1)
  return embedding / (jnp.max(embedding, axis=1, keepdims=True) + 1.0)


class HdpPolicy(nn.Module):
  """HDP's grouper + placer for one joint sample (vmap over samples at the call site).

  Attributes:
    num_groups: G, groups the grouper chooses from.
    num_devices: D.
    hidden_size: placer LSTM size (encoder: hidden_size / 2 per direction).
    grouping_hidden_size: hidden units of the grouper's feed-forward layer.
    type_embed_dim: width of the learned op-type embedding fed to the grouper.
    forget_bias_init: initial LSTM forget-gate bias.
    temperature: device-logit temperature.
    tanh_constant: device logits are ``tanh(logits) * tanh_constant`` when > 0.
  """

  num_groups: int
  num_devices: int
  hidden_size: int = 512
  grouping_hidden_size: int = 64
  type_embed_dim: int = 16
  forget_bias_init: float = 1.0
  temperature: float = 1.0
  tanh_constant: float = 1.0

  @nn.compact
  def __call__(self, inputs: PolicyInputs, noise: PolicyNoise, noise_std: jax.Array,
               forced: Actions | None = None) -> tuple[Actions, jax.Array]:
    """Samples (or, with ``forced``, re-evaluates) one grouping and one group placement.

    Args:
      inputs: the graph's policy inputs ((Np, ...) arrays).
      noise: the sample's noise (:func:`draw_noise`).
      noise_std: () float32, exploration noise scale (grappler's ``logits_std_noise``;
        0 disables it).
      forced: actions to re-evaluate instead of sampling (teacher forcing).

    Returns:
      The actions and () float32, the log-probability of the joint sample
      (grouper over real ops + placer over all groups).
    """
    glorot = nn.initializers.glorot_uniform()
    forget_init = nn.initializers.constant(self.forget_bias_init)
    # --- Grouper: per-op feed-forward network, vectorized over the padded ops.
    type_embedding = nn.Embed(ops.NUM_OP_TYPES, self.type_embed_dim, name="op_type_embedding")
    op_input = jnp.concatenate([inputs.op_features, type_embedding(inputs.op_type)], axis=-1)
    hidden = jnp.tanh(nn.Dense(self.grouping_hidden_size, kernel_init=glorot, name="grouping_ff")(op_input))
    group_logits = nn.Dense(self.num_groups, kernel_init=glorot, name="grouping_softmax")(hidden)
    group_logits = _perturb(group_logits, noise.group_normal, noise_std)
    group_log_softmax = jax.nn.log_softmax(group_logits, axis=-1)  # (Np, G)
    if forced is None:
      groups = jnp.argmax(group_logits + noise.group_gumbel, axis=-1).astype(jnp.int32)
    else:
      groups = forced.groups
    op_log_probs = jnp.take_along_axis(group_log_softmax, groups[:, None], axis=-1)[:, 0]
    group_log_prob = jnp.sum(jnp.where(inputs.node_mask, op_log_probs, 0.0))

    # --- Placer encoder: bidirectional LSTM over the (non-differentiable) group embeddings.
    embedding = jax.lax.stop_gradient(group_embeddings(groups, inputs, self.num_groups))  # (G, E)
    half = self.hidden_size // 2
    width = embedding.shape[-1]
    w_forward = self.param("encoder_lstm_forward", glorot, (width + half, 4 * half))
    w_backward = self.param("encoder_lstm_backward", glorot, (width + half, 4 * half))
    encoder_forget_bias = self.param("encoder_forget_bias", forget_init, ())
    zeros = (jnp.zeros(half), jnp.zeros(half))

    def encoder_step(w):
      def step(carry, x):
        carry = _lstm(x, carry, w, encoder_forget_bias)
        return carry, carry[1]
      return step

    (c_fwd, h_fwd), states_fwd = jax.lax.scan(encoder_step(w_forward), zeros, embedding)
    (c_bwd, h_bwd), states_bwd = jax.lax.scan(encoder_step(w_backward), zeros, embedding, reverse=True)
    encoder_states = jnp.concatenate([states_fwd, states_bwd], axis=-1)  # (G, H)
    carry = (jnp.concatenate([c_fwd, c_bwd]), jnp.concatenate([h_fwd, h_bwd]))

    # --- Placer decoder: one device per group, attention over the encoder states.
    h_size = self.hidden_size
    attn_w_1 = self.param("attn_w_1", glorot, (h_size, h_size))
    attn_w_2 = self.param("attn_w_2", glorot, (h_size, h_size))
    attn_v = self.param("attn_v", glorot, (h_size, 1))
    w_decoder = self.param("decoder_lstm", glorot, (2 * h_size, 4 * h_size))
    decoder_forget_bias = self.param("decoder_forget_bias", forget_init, ())
    device_embeddings = self.param("device_embeddings", glorot, (self.num_devices, h_size))
    go_embedding = self.param("device_go_embedding", glorot, (1, h_size))[0]
    device_softmax = self.param("device_softmax", glorot, (2 * h_size, self.num_devices))
    attn_memory = encoder_states @ attn_w_1  # (G, H)
    forced_devices = (jnp.zeros(self.num_groups, jnp.int32) if forced is None else forced.group_devices)

    def decoder_step(state, per_group):
      carry, previous_input = state
      gumbel, normal, forced_device = per_group
      carry = _lstm(previous_input, carry, w_decoder, decoder_forget_bias)
      h = carry[1]
      scores = (jnp.tanh(h @ attn_w_2 + attn_memory) @ attn_v)[:, 0]  # (G,)
      context = jax.nn.softmax(scores) @ attn_memory  # (H,)
      logits = jnp.concatenate([h, context]) @ device_softmax / self.temperature
      if self.tanh_constant > 0:
        logits = jnp.tanh(logits) * self.tanh_constant
      logits = _perturb(logits, normal, noise_std)
      device = (jnp.argmax(logits + gumbel).astype(jnp.int32) if forced is None else forced_device)
      log_prob = jax.nn.log_softmax(logits)[device]
      return (carry, device_embeddings[device]), (device, log_prob)

    _, (devices, device_log_probs) = jax.lax.scan(
        decoder_step, (carry, go_embedding), (noise.device_gumbel, noise.device_normal, forced_devices))
    return Actions(groups, devices), group_log_prob + jnp.sum(device_log_probs)
