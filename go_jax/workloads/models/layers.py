"""Layers shared by the recurrent workloads: an LSTM cell and an unroller.

Recurrent models are unrolled with Python loops over time steps, so that a
traced training step holds one copy of the cell per step, as TensorFlow's
statically unrolled graphs of the GO paper did.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class LSTMCell(nn.Module):
  """A TF ``BasicLSTMCell``-style LSTM cell: one fused matmul over ``[x, h]``.

  Attributes:
    hidden: number of units H.
    forget_bias: added to the forget gate pre-activation (TF default 1.0).
  """

  hidden: int
  forget_bias: float = 1.0

  @nn.compact
  def __call__(self, carry: tuple[jax.Array, jax.Array],
               x: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
    """One time step.

    Args:
      carry: ``(h, c)``, each (B, H) float32.
      x: (B, I) float32 input of this step.

    Returns:
      ``((h', c'), h')`` with h', c' of shape (B, H).
    """
    h, c = carry
    gates = nn.Dense(4 * self.hidden, name="gates")(jnp.concatenate([x, h], axis=-1))
    i, g, f, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f + self.forget_bias) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def unroll(cell: LSTMCell, inputs: Sequence[jax.Array], reverse: bool = False) -> list[jax.Array]:
  """Runs ``cell`` over a list of per-step inputs from a zero state.

  Args:
    cell: the (bound) LSTM cell; its parameters are shared by all steps.
    inputs: T arrays of shape (B, I).
    reverse: run from the last step to the first (backward direction of a
      bidirectional layer); outputs are returned in input order either way.

  Returns:
    T arrays of shape (B, H), the hidden state after each step.
  """
  batch = inputs[0].shape[0]
  carry = (jnp.zeros((batch, cell.hidden), inputs[0].dtype),
           jnp.zeros((batch, cell.hidden), inputs[0].dtype))
  order = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
  outputs: list[jax.Array | None] = [None] * len(inputs)
  for t in order:
    carry, outputs[t] = cell(carry, inputs[t])
  return outputs  # type: ignore[return-value]
