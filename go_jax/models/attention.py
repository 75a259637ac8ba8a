"""Transformer-XL attention with segment-level recurrence and relative positions.

A sequence of L node embeddings (in topological order) is cut into segments of
S positions. Segment ``s`` attends to itself (all S positions, in both
directions: decisions are non-autoregressive) plus a memory of the last M
positions before it. The memory of each layer holds that layer's *inputs* at
those positions and is a ``stop_gradient`` cache, as in Transformer-XL (Dai et
al. 2019). :class:`SegmentRecurrentStack` runs the segments with ``lax.scan``
(``nn.scan``), so activations are O(S * (S + M)) per step whatever L is.

Attention logits use Transformer-XL's relative formulation::

  logit[i, j] = ((q_i + u) . k_j + (q_i + v) . W_r sinusoid(i - j)) / sqrt(d)

Feature modulation (parameter superposition): every layer takes a gate vector
``g`` (H,) computed from the graph context; the normalised inputs of the
attention and the feed-forward block are multiplied by ``g``.

When M >= L - S (every earlier position fits in memory), the recurrence is
exactly full attention with a block-causal mask (a query sees its own segment
and all earlier segments); :func:`block_causal_mask` builds that mask for the
reference computation in tests.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_MASKED_LOGIT = -1e9  # finite, so fully masked rows give uniform weights, not NaN


def sinusoid(distances: jax.Array, size: int) -> jax.Array:
  """Sinusoidal encodings (R, size) of integer distances (R,), as in Transformer-XL."""
  inverse_frequency = 1.0 / (10000.0 ** (jnp.arange(0, size, 2, dtype=jnp.float32) / size))
  angles = distances.astype(jnp.float32)[:, None] * inverse_frequency[None, :]
  return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)[:, :size]


class RelativeAttention(nn.Module):
  """Multi-head attention with Transformer-XL relative position logits.

  Attributes:
    num_heads: attention heads.
    hidden_size: width H of inputs and output; ``H % num_heads == 0``.
  """

  num_heads: int
  hidden_size: int

  @nn.compact
  def __call__(self, queries: jax.Array, keys: jax.Array, mask: jax.Array, query_positions: jax.Array,
               key_positions: jax.Array, min_distance: int, max_distance: int) -> jax.Array:
    """Attends ``queries`` to ``keys``.

    Args:
      queries: (Q, H) float32.
      keys: (K, H) float32 (also the values).
      mask: (Q, K) bool, True where query i may attend to key j.
      query_positions: (Q,) int32 positions of the queries.
      key_positions: (K,) int32 positions of the keys.
      min_distance: static lower bound of ``query_position - key_position``.
      max_distance: static upper bound of ``query_position - key_position``.

    Returns:
      (Q, H) float32 attention output.
    """
    head_size = self.hidden_size // self.num_heads
    dense = lambda name: nn.DenseGeneral((self.num_heads, head_size), name=name)  # noqa: E731
    query = dense("query")(queries)  # (Q, heads, d)
    key = dense("key")(keys)  # (K, heads, d)
    value = dense("value")(keys)  # (K, heads, d)
    content_bias = self.param("content_bias", nn.initializers.zeros, (self.num_heads, head_size))
    position_bias = self.param("position_bias", nn.initializers.zeros, (self.num_heads, head_size))
    # One projected encoding per distinct distance; gathered per (query, key)
    # pair instead of Transformer-XL's "relative shift" trick.
    distances = jnp.arange(min_distance, max_distance + 1)
    relative = nn.DenseGeneral((self.num_heads, head_size), use_bias=False, name="relative")(
        sinusoid(distances, self.hidden_size))  # (R, heads, d)
    content_logits = jnp.einsum("qhd,khd->hqk", query + content_bias, key)
    position_logits_by_distance = jnp.einsum("qhd,rhd->hqr", query + position_bias, relative)
    index = query_positions[:, None] - key_positions[None, :] - min_distance  # (Q, K)
    position_logits = jnp.take_along_axis(position_logits_by_distance, index[None], axis=2)
    logits = (content_logits + position_logits) / math.sqrt(head_size)
    logits = jnp.where(mask[None], logits, _MASKED_LOGIT)
    weights = jax.nn.softmax(logits, axis=-1)
    attended = jnp.einsum("hqk,khd->qhd", weights, value)
    return nn.DenseGeneral(self.hidden_size, axis=(-2, -1), name="output")(attended)


class XLLayer(nn.Module):
  """Pre-norm Transformer-XL layer: relative attention over [memory, segment] + FFN.

  Attributes:
    num_heads: attention heads.
    hidden_size: width H.
    ffn_multiplier: feed-forward width in units of H.
  """

  num_heads: int
  hidden_size: int
  ffn_multiplier: int = 2

  @nn.compact
  def __call__(self, segment: jax.Array, memory: jax.Array, mask: jax.Array, gate: jax.Array) -> jax.Array:
    """Updates one segment.

    Positions are local: memory occupies 0..M-1, the segment M..M+S-1.

    Args:
      segment: (S, H) float32 layer inputs of this segment.
      memory: (M, H) float32 cached layer inputs of the M previous positions
        (treated as constants: no gradient flows into them).
      mask: (S, M + S) bool, True where segment position i may attend to key j
        (keys ordered [memory, segment]).
      gate: (H,) float32 feature-modulation gate of this layer.

    Returns:
      (S, H) float32 layer outputs.
    """
    seg_len, mem_len = segment.shape[0], memory.shape[0]
    norm = nn.LayerNorm(name="attention_norm")
    queries = norm(segment) * gate
    keys = jnp.concatenate([norm(jax.lax.stop_gradient(memory)) * gate, queries], axis=0)
    attended = RelativeAttention(self.num_heads, self.hidden_size, name="attention")(
        queries, keys, mask, query_positions=mem_len + jnp.arange(seg_len),
        key_positions=jnp.arange(mem_len + seg_len), min_distance=-(seg_len - 1),
        max_distance=seg_len + mem_len - 1)
    hidden = segment + attended
    ffn_in = nn.LayerNorm(name="ffn_norm")(hidden) * gate
    ffn = nn.Dense(self.hidden_size * self.ffn_multiplier, name="ffn_in")(ffn_in)
    ffn = nn.Dense(self.hidden_size, name="ffn_out")(nn.gelu(ffn))
    return hidden + ffn


class Memory(NamedTuple):
  """Carry of the segment recurrence."""

  states: jax.Array  # (layers, M, H) float32, each layer's inputs at the last M positions
  mask: jax.Array  # (M,) bool, True where the cached position is a real node


class SegmentStep(nn.Module):
  """All layers of the stack on one segment; the body of the segment scan.

  Attributes:
    num_layers: layers in the stack.
    num_heads: attention heads.
    hidden_size: width H.
    ffn_multiplier: feed-forward width in units of H.
  """

  num_layers: int
  num_heads: int
  hidden_size: int
  ffn_multiplier: int = 2

  @nn.compact
  def __call__(self, memory: Memory, segment: jax.Array, segment_mask: jax.Array, gates: jax.Array,
               attention_mask: jax.Array | None = None) -> tuple[Memory, jax.Array]:
    """Runs the layers on one segment and rolls the memory forward.

    Args:
      memory: the M cached positions before this segment.
      segment: (S, H) float32 inputs.
      segment_mask: (S,) bool, True for real nodes.
      gates: (layers, H) float32 feature-modulation gates.
      attention_mask: optional (S, M + S) bool mask replacing the default
        "attend to every real key" (used by the block-causal reference).

    Returns:
      The memory for the next segment and the (S, H) outputs.
    """
    seg_len, mem_len = segment.shape[0], memory.states.shape[1]
    key_mask = jnp.concatenate([memory.mask, segment_mask])  # (M + S,)
    if attention_mask is None:
      attention_mask = jnp.broadcast_to(key_mask[None, :], (seg_len, mem_len + seg_len))
    hidden = segment
    new_states = []
    for layer in range(self.num_layers):
      layer_memory = memory.states[layer]
      # The last M positions of [old memory, this segment] (also right when M = 0).
      new_states.append(jnp.concatenate([layer_memory, hidden], axis=0)[seg_len:])
      hidden = XLLayer(self.num_heads, self.hidden_size, self.ffn_multiplier, name=f"layer_{layer}")(
          hidden, layer_memory, attention_mask, gates[layer])
    new_memory = Memory(states=jnp.stack(new_states), mask=key_mask[seg_len:])
    return new_memory, hidden


class SegmentRecurrentStack(nn.Module):
  """Transformer-XL stack over a long sequence, one segment at a time (``nn.scan``).

  Attributes:
    num_layers: layers in the stack.
    num_heads: attention heads.
    hidden_size: width H.
    segment_length: S, positions per segment.
    memory_length: M, cached positions attended to besides the segment.
    ffn_multiplier: feed-forward width in units of H.
    remat: rematerialise each segment step in the backward pass, so that only
      the (small) memories are stored per segment.
  """

  num_layers: int
  num_heads: int
  hidden_size: int
  segment_length: int
  memory_length: int
  ffn_multiplier: int = 2
  remat: bool = False

  @nn.compact
  def __call__(self, sequence: jax.Array, mask: jax.Array, gates: jax.Array) -> jax.Array:
    """Runs the stack over ``sequence``.

    Args:
      sequence: (L, H) float32 inputs in sequence (topological) order.
      mask: (L,) bool, True for real nodes; padding positions are never
        attended to.
      gates: (layers, H) float32 feature-modulation gates.

    Returns:
      (L, H) float32 outputs.
    """
    length = sequence.shape[0]
    seg_len = min(self.segment_length, length)
    num_segments = -(-length // seg_len)
    padded = num_segments * seg_len
    sequence = jnp.pad(sequence, ((0, padded - length), (0, 0)))
    mask = jnp.pad(mask, (0, padded - length))
    # prevent_cse=False: scan already keeps the recomputation from being merged away.
    step_cls = nn.remat(SegmentStep, prevent_cse=False) if self.remat else SegmentStep
    scan = nn.scan(step_cls, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=(0, 0, nn.broadcast), out_axes=0, length=num_segments)
    step = scan(self.num_layers, self.num_heads, self.hidden_size, self.ffn_multiplier, name="step")
    initial = Memory(states=jnp.zeros((self.num_layers, self.memory_length, self.hidden_size), sequence.dtype),
                     mask=jnp.zeros((self.memory_length,), bool))
    _, outputs = step(initial, sequence.reshape(num_segments, seg_len, -1),
                      mask.reshape(num_segments, seg_len), gates)
    return outputs.reshape(padded, -1)[:length]


def block_causal_mask(length: int, segment_length: int, mask: np.ndarray | jax.Array) -> jax.Array:
  """(L, L) bool mask: query i sees real key j iff segment(j) <= segment(i).

  With memory covering every earlier position, :class:`SegmentRecurrentStack`
  computes exactly full attention under this mask.
  """
  segment = jnp.arange(length) // segment_length
  return (segment[None, :] <= segment[:, None]) & jnp.asarray(mask, bool)[None, :]
