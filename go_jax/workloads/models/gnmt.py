"""GNMT: Google's LSTM encoder-decoder with attention (Wu et al. 2016).

Encoder: a bidirectional first layer (``encoder/lstm_0_fw`` and
``encoder/lstm_0_bw``, outputs concatenated), then unidirectional layers
``encoder/lstm_<k>`` with residual connections from the third layer on.
Decoder: ``decoder/lstm_<k>``; the bottom layer's output queries a normalized
Bahdanau ``attention`` over the encoder outputs and the attention context is
fed to every decoder layer (GNMT's design), with residual connections from the
third layer on. A ``softmax`` projection produces the logits. Everything is
unrolled over source and target time steps with Python loops (teacher forcing).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from go_jax.workloads import training
from go_jax.workloads.models import layers


class BahdanauAttention(nn.Module):
  """Normalized additive attention (GNMT's choice).

  Attributes:
    units: attention width A.
  """

  units: int

  @nn.compact
  def keys(self, memory: jax.Array) -> jax.Array:
    """Projects encoder outputs (B, S, H) to keys (B, S, A), once per sequence."""
    return nn.Dense(self.units, use_bias=False, name="memory_layer")(memory)

  @nn.compact
  def __call__(self, query: jax.Array, keys: jax.Array, memory: jax.Array) -> jax.Array:
    """One decoder step.

    Args:
      query: (B, H) bottom decoder layer output.
      keys: (B, S, A) projected memory.
      memory: (B, S, H) encoder outputs.

    Returns:
      (B, H) attention context.
    """
    q = nn.Dense(self.units, use_bias=False, name="query_layer")(query)
    v = self.param("attention_v", nn.initializers.lecun_normal(), (1, self.units))[0]
    g = self.param("attention_g", nn.initializers.constant(1.0 / self.units ** 0.5), ())
    b = self.param("attention_b", nn.initializers.zeros, (self.units,))
    normed_v = g * v * jax.lax.rsqrt(jnp.sum(v * v))
    scores = jnp.sum(normed_v * jnp.tanh(keys + q[:, None, :] + b), axis=-1)  # (B, S)
    weights = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum("bs,bsh->bh", weights, memory)


class Encoder(nn.Module):
  num_layers: int
  hidden: int

  @nn.compact
  def __call__(self, steps: list[jax.Array]) -> list[jax.Array]:
    """Args: S arrays (B, H). Returns S arrays (B, H), the top layer's outputs."""
    half = self.hidden // 2
    fw = layers.unroll(layers.LSTMCell(half, name="lstm_0_fw"), steps)
    bw = layers.unroll(layers.LSTMCell(self.hidden - half, name="lstm_0_bw"), steps, reverse=True)
    steps = [jnp.concatenate([f, b], axis=-1) for f, b in zip(fw, bw)]
    for k in range(1, self.num_layers):
      out = layers.unroll(layers.LSTMCell(self.hidden, name=f"lstm_{k}"), steps)
      steps = [o + s for o, s in zip(out, steps)] if k >= 2 else out
    return steps


class Decoder(nn.Module):
  num_layers: int
  hidden: int

  @nn.compact
  def __call__(self, steps: list[jax.Array], memory: jax.Array,
               attention: BahdanauAttention) -> list[jax.Array]:
    """Args: T arrays (B, H) target embeddings; memory (B, S, H). Returns T arrays (B, H)."""
    cells = [layers.LSTMCell(self.hidden, name=f"lstm_{k}") for k in range(self.num_layers)]
    batch = memory.shape[0]
    carries = [(jnp.zeros((batch, self.hidden)), jnp.zeros((batch, self.hidden)))
               for _ in range(self.num_layers)]
    keys = attention.keys(memory)
    outputs = []
    for x in steps:
      carries[0], h = cells[0](carries[0], x)
      context = attention(h, keys, memory)
      for k in range(1, self.num_layers):
        carries[k], out = cells[k](carries[k], jnp.concatenate([h, context], axis=-1))
        h = out + h if k >= 2 else out
      outputs.append(h)
    return outputs


class GNMT(nn.Module):
  """GNMT encoder-decoder.

  Attributes:
    num_layers: L, layers of the encoder (counting the bidirectional one) and
      of the decoder.
    hidden: LSTM units H.
    vocab: shared source/target vocabulary size V.
  """

  num_layers: int
  hidden: int
  vocab: int

  @nn.compact
  def __call__(self, batch, train: bool = True) -> jax.Array:
    """Args: batch["source"] (B, S), batch["target"] (B, T) int32. Returns logits (B, T, V)."""
    del train
    source = nn.Embed(self.vocab, self.hidden, name="encoder_embedding")(batch["source"])
    target = nn.Embed(self.vocab, self.hidden, name="decoder_embedding")(batch["target"])
    enc = Encoder(self.num_layers, self.hidden, name="encoder")(
        [source[:, s] for s in range(source.shape[1])])
    memory = jnp.stack(enc, axis=1)
    attention = BahdanauAttention(self.hidden, name="attention")
    dec = Decoder(self.num_layers, self.hidden, name="decoder")(
        [target[:, t] for t in range(target.shape[1])], memory, attention)
    return nn.Dense(self.vocab, name="softmax")(jnp.stack(dec, axis=1))


def make_problem(num_layers: int = 2, unroll: int = 48, batch: int = 128, hidden: int = 1024,
                 vocab: int = 32000, clip_norm: float = 5.0) -> training.TrainingProblem:
  """A GNMT training problem.

  Args:
    num_layers: encoder and decoder layers (>= 2).
    unroll: source and target length the graph is unrolled over.
    batch: sentence pairs per step.
    hidden: LSTM units.
    vocab: shared vocabulary size.
    clip_norm: global gradient-norm clip before Adam.
  """
  if num_layers < 2:
    raise ValueError(f"GNMT needs num_layers >= 2, got {num_layers}")
  shapes = lambda t: training.abstract_batch({"source": ((batch, t), "int32"),
                                              "target": ((batch, t), "int32"),
                                              "labels": ((batch, t), "int32")})
  return training.TrainingProblem(
      model=GNMT(num_layers=num_layers, hidden=hidden, vocab=vocab), batch=shapes(unroll),
      init_batch=shapes(2), optimizer=training.adam(1e-3, clip_norm))
