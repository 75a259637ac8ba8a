"""Transformer-XL (Dai et al. 2019): segment recurrence with relative positions.

One training step processes ``num_segments`` consecutive segments of
``segment_len`` tokens; each layer attends over its cached memory of the
previous segment (``mem_len`` positions, gradients stopped) plus the current
segment, with Transformer-XL's relative positional attention
(``(q + u) k^T + rel_shift((q + v) R^T)``). Module names used by the expert
placement: ``embedding``, ``layer_<k>``, ``softmax``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from go_jax.workloads import training


def sinusoid_embedding(positions: jax.Array, dim: int) -> jax.Array:
  """Relative position encodings (K,) -> (K, dim), as in the paper."""
  inv_freq = 1.0 / (10000 ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim))
  angles = positions[:, None] * inv_freq[None, :]
  return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def rel_shift(scores: jax.Array) -> jax.Array:
  """Shifts (B, H, L, K) position scores so column j is relative distance i - j.

  The pad-reshape trick of the reference implementation.
  """
  b, h, q_len, k_len = scores.shape
  padded = jnp.pad(scores, ((0, 0), (0, 0), (0, 0), (1, 0)))
  padded = padded.reshape(b, h, k_len + 1, q_len)
  return padded[:, :, 1:].reshape(b, h, q_len, k_len)


class RelativeAttention(nn.Module):
  """Relative multi-head attention over [memory, segment]."""

  num_heads: int
  head_dim: int

  @nn.compact
  def __call__(self, h: jax.Array, memory: jax.Array, pos_emb: jax.Array) -> jax.Array:
    """Args: h (B, L, D), memory (B, M, D), pos_emb (M+L, D). Returns (B, L, D)."""
    b, q_len, d_model = h.shape
    k_len = memory.shape[1] + q_len
    heads, dh = self.num_heads, self.head_dim
    context = jnp.concatenate([memory, h], axis=1)
    qkv = nn.Dense(3 * heads * dh, use_bias=False, name="qkv")(context)
    q, k, v = jnp.split(qkv, 3, axis=-1)
    q = q[:, -q_len:].reshape(b, q_len, heads, dh)
    k = k.reshape(b, k_len, heads, dh)
    v = v.reshape(b, k_len, heads, dh)
    r = nn.Dense(heads * dh, use_bias=False, name="r_net")(pos_emb).reshape(k_len, heads, dh)
    u_bias = self.param("r_w_bias", nn.initializers.zeros, (heads, dh))
    v_bias = self.param("r_r_bias", nn.initializers.zeros, (heads, dh))
    content = jnp.einsum("bihd,bjhd->bhij", q + u_bias, k)
    position = rel_shift(jnp.einsum("bihd,jhd->bhij", q + v_bias, r))
    scores = (content + position) * (1.0 / dh ** 0.5)
    # Query i (at absolute index M + i) may see keys j <= M + i.
    causal = jnp.arange(k_len)[None, :] <= (jnp.arange(q_len)[:, None] + k_len - q_len)
    scores = jnp.where(causal[None, None], scores, -1e30)
    weights = jax.nn.softmax(scores, axis=-1)
    attended = jnp.einsum("bhij,bjhd->bihd", weights, v).reshape(b, q_len, heads * dh)
    out = nn.Dense(d_model, use_bias=False, name="o_net")(attended)
    return nn.LayerNorm(name="norm")(h + out)


class DecoderLayer(nn.Module):
  num_heads: int
  head_dim: int
  d_inner: int

  @nn.compact
  def __call__(self, h, memory, pos_emb):
    h = RelativeAttention(self.num_heads, self.head_dim, name="attention")(h, memory, pos_emb)
    ff = nn.Dense(self.d_inner, name="ff_1")(h)
    ff = nn.Dense(h.shape[-1], name="ff_2")(jax.nn.relu(ff))
    return nn.LayerNorm(name="ff_norm")(h + ff)


class TransformerXL(nn.Module):
  """A Transformer-XL language model.

  Attributes:
    num_layers: decoder layers L.
    d_model, num_heads, head_dim, d_inner: layer sizes.
    vocab: vocabulary size V.
    segment_len: tokens per segment.
    mem_len: cached positions per layer.
  """

  num_layers: int
  d_model: int
  num_heads: int
  head_dim: int
  d_inner: int
  vocab: int
  segment_len: int
  mem_len: int

  @nn.compact
  def __call__(self, batch, train: bool = True):
    """Args: batch["tokens"] (B, S * segment_len) int32, batch["memory"] (L, B, M, D).

    Returns:
      ``(logits (B, S * segment_len, V), new memory (L, B, M, D))``.
    """
    del train
    tokens = batch["tokens"]
    embed = nn.Embed(self.vocab, self.d_model, name="embedding")
    layers = [DecoderLayer(self.num_heads, self.head_dim, self.d_inner, name=f"layer_{k}")
              for k in range(self.num_layers)]
    head = nn.Dense(self.vocab, name="softmax")
    memory = [batch["memory"][k] for k in range(self.num_layers)]
    k_len = self.mem_len + self.segment_len
    pos_emb = sinusoid_embedding(jnp.arange(k_len - 1, -1, -1, dtype=jnp.float32), self.d_model)
    logits = []
    for s in range(tokens.shape[1] // self.segment_len):
      h = embed(tokens[:, s * self.segment_len:(s + 1) * self.segment_len]) * self.d_model ** 0.5
      new_memory = []
      for k, layer in enumerate(layers):
        new_memory.append(jax.lax.stop_gradient(
            jnp.concatenate([memory[k], h], axis=1)[:, -self.mem_len:]))
        h = layer(h, memory[k], pos_emb)
      memory = new_memory
      logits.append(head(h))
    return jnp.concatenate(logits, axis=1), jnp.stack(memory)


def make_problem(num_layers: int = 2, num_segments: int = 4, segment_len: int = 128, mem_len: int = 128,
                 batch: int = 32, d_model: int = 512, num_heads: int = 8, d_inner: int = 2048,
                 vocab: int = 32000) -> training.TrainingProblem:
  """A Transformer-XL training problem.

  Args:
    num_layers: decoder layers.
    num_segments: consecutive segments per training step (the recurrence is
      unrolled over them).
    segment_len: tokens per segment.
    mem_len: memory length.
    batch: sequences per step.
    d_model, num_heads, d_inner: layer sizes (head_dim = d_model / num_heads).
    vocab: vocabulary size.
  """
  def shapes(segments):
    return training.abstract_batch({
        "tokens": ((batch, segments * segment_len), "int32"),
        "labels": ((batch, segments * segment_len), "int32"),
        "memory": ((num_layers, batch, mem_len, d_model), "float32")})
  model = TransformerXL(num_layers=num_layers, d_model=d_model, num_heads=num_heads,
                        head_dim=d_model // num_heads, d_inner=d_inner, vocab=vocab,
                        segment_len=segment_len, mem_len=mem_len)
  return training.TrainingProblem(model=model, batch=shapes(num_segments), init_batch=shapes(1),
                                  optimizer=training.adam(2.5e-4, clip_norm=0.25))
