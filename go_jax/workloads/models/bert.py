"""BERT-base pre-training (Devlin et al. 2019): masked LM + next-sentence prediction.

Module names used by the expert placement: ``embeddings``, ``layer_<k>``,
``pooler``, ``mlm_head``, ``nsp_head``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from go_jax.workloads import training


class SelfAttention(nn.Module):
  num_heads: int

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    """Args: h (B, S, D). Returns (B, S, D)."""
    b, s, d = h.shape
    dh = d // self.num_heads
    split = lambda x: x.reshape(b, s, self.num_heads, dh)
    q = split(nn.Dense(d, name="query")(h))
    k = split(nn.Dense(d, name="key")(h))
    v = split(nn.Dense(d, name="value")(h))
    weights = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) / dh ** 0.5, axis=-1)
    attended = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, s, d)
    return nn.Dense(d, name="output")(attended)


class EncoderLayer(nn.Module):
  num_heads: int
  d_inner: int

  @nn.compact
  def __call__(self, h):
    h = nn.LayerNorm(name="attention_norm")(h + SelfAttention(self.num_heads, name="attention")(h))
    ff = nn.Dense(h.shape[-1], name="ff_output")(jax.nn.gelu(nn.Dense(self.d_inner, name="ff_intermediate")(h)))
    return nn.LayerNorm(name="ff_norm")(h + ff)


class Bert(nn.Module):
  """BERT encoder with pre-training heads.

  Attributes:
    num_layers, d_model, num_heads, d_inner: encoder sizes.
    vocab: WordPiece vocabulary size.
    max_len: position embeddings.
  """

  num_layers: int
  d_model: int
  num_heads: int
  d_inner: int
  vocab: int
  max_len: int = 512

  @nn.compact
  def __call__(self, batch, train: bool = True):
    """Args: input_ids, segment_ids (B, S); masked_positions (B, P) int32.

    Returns:
      ``(mlm_logits (B, P, V), nsp_logits (B, 2))``.
    """
    del train
    ids = batch["input_ids"]
    word = nn.Embed(self.vocab, self.d_model, name="word_embeddings")
    token_type = nn.Embed(2, self.d_model, name="type_embeddings")(batch["segment_ids"])
    position = self.param("position_embeddings", nn.initializers.normal(0.02), (self.max_len, self.d_model))
    h = word(ids) + token_type + position[None, : ids.shape[1]]
    h = nn.LayerNorm(name="embeddings_norm")(h)
    for k in range(self.num_layers):
      h = EncoderLayer(self.num_heads, self.d_inner, name=f"layer_{k}")(h)
    pooled = jnp.tanh(nn.Dense(self.d_model, name="pooler")(h[:, 0]))
    nsp_logits = nn.Dense(2, name="nsp_head")(pooled)
    picked = jnp.take_along_axis(h, batch["masked_positions"][..., None], axis=1)
    mlm = MlmHead(self.d_model, name="mlm_head")(picked, word.embedding)
    return mlm, nsp_logits


class MlmHead(nn.Module):
  d_model: int

  @nn.compact
  def __call__(self, picked, embedding):
    x = nn.LayerNorm(name="norm")(jax.nn.gelu(nn.Dense(self.d_model, name="transform")(picked)))
    bias = self.param("output_bias", nn.initializers.zeros, (embedding.shape[0],))
    return x @ embedding.T + bias  # decoder tied to the word embeddings


def pretraining_loss(outputs, batch) -> jax.Array:
  """Masked-LM cross-entropy plus next-sentence cross-entropy (scalar)."""
  mlm_logits, nsp_logits = outputs
  mlm = optax.softmax_cross_entropy_with_integer_labels(mlm_logits, batch["labels"]).mean()
  nsp = optax.softmax_cross_entropy_with_integer_labels(nsp_logits, batch["next_sentence"]).mean()
  return mlm + nsp


def make_problem(num_layers: int = 12, seq_len: int = 128, batch: int = 32, d_model: int = 768,
                 num_heads: int = 12, d_inner: int = 3072, vocab: int = 30522,
                 max_predictions: int = 20) -> training.TrainingProblem:
  """A BERT pre-training problem (BERT-base sizes by default).

  Args:
    num_layers: encoder layers.
    seq_len: tokens per sequence.
    batch: sequences per step.
    d_model, num_heads, d_inner: encoder sizes.
    vocab: vocabulary size.
    max_predictions: masked positions per sequence.
  """
  shapes = training.abstract_batch({
      "input_ids": ((batch, seq_len), "int32"), "segment_ids": ((batch, seq_len), "int32"),
      "masked_positions": ((batch, max_predictions), "int32"),
      "labels": ((batch, max_predictions), "int32"), "next_sentence": ((batch,), "int32")})
  model = Bert(num_layers=num_layers, d_model=d_model, num_heads=num_heads, d_inner=d_inner, vocab=vocab,
               max_len=max(512, seq_len))
  return training.TrainingProblem(model=model, batch=shapes, loss=pretraining_loss,
                                  optimizer=optax.adamw(1e-4, weight_decay=0.01))
