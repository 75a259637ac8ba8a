"""RNNLM: a stacked-LSTM language model (Zaremba et al. 2014; Jozefowicz et al. 2016).

The GO/HDP papers' RNNLM graphs are TensorFlow training graphs of a 2/4/8
layer LSTM LM, statically unrolled over the sequence. Module names that the
expert placement relies on: ``embedding``, ``lstm_<k>``, ``softmax``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from go_jax.workloads import training
from go_jax.workloads.models import layers


class RNNLM(nn.Module):
  """Embedding -> L stacked LSTM layers unrolled over T steps -> softmax.

  Attributes:
    num_layers: L.
    hidden: LSTM units H (also the embedding width).
    vocab: vocabulary size V.
  """

  num_layers: int
  hidden: int
  vocab: int

  @nn.compact
  def __call__(self, batch, train: bool = True) -> jax.Array:
    """Args: batch["tokens"] (B, T) int32. Returns logits (B, T, V) float32."""
    del train
    tokens = batch["tokens"]
    x = nn.Embed(self.vocab, self.hidden, name="embedding")(tokens)
    steps = [x[:, t] for t in range(tokens.shape[1])]
    for k in range(self.num_layers):
      steps = layers.unroll(layers.LSTMCell(self.hidden, name=f"lstm_{k}"), steps)
    return nn.Dense(self.vocab, name="softmax")(jnp.stack(steps, axis=1))


def make_problem(num_layers: int = 2, unroll: int = 96, batch: int = 64, hidden: int = 2048,
                 vocab: int = 32000, clip_norm: float = 5.0) -> training.TrainingProblem:
  """An RNNLM training problem.

  Args:
    num_layers: stacked LSTM layers.
    unroll: time steps T the graph is unrolled over.
    batch: sequences per step B.
    hidden: LSTM units.
    vocab: vocabulary size.
    clip_norm: global gradient-norm clip before Adam.
  """
  shapes = lambda t: training.abstract_batch({"tokens": ((batch, t), "int32"),
                                              "labels": ((batch, t), "int32")})
  return training.TrainingProblem(
      model=RNNLM(num_layers=num_layers, hidden=hidden, vocab=vocab), batch=shapes(unroll),
      init_batch=shapes(1), optimizer=training.adam(1e-3, clip_norm))
