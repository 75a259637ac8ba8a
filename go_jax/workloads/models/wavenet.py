"""WaveNet (van den Oord et al. 2016): dilated causal convolutions.

``num_stacks`` stacks of ``layers_per_stack`` residual layers with dilations
1, 2, 4, ..., 2**(layers_per_stack - 1). Each layer: dilated causal conv ->
gated activation tanh(f) * sigmoid(g) -> 1x1 residual conv (added to the
input) and 1x1 skip conv; the skips are summed, then relu -> 1x1 -> relu ->
1x1 -> softmax over ``quantization`` mu-law levels. ``wavenet_2x18`` is 2
stacks x 9 layers = 18 layers (dilations up to 256), ``wavenet_4x36`` is 4
stacks x 9 = 36 layers. Module names used by the expert placement:
``input_conv``, ``stack_<s>/layer_<j>``, ``postprocess``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from go_jax.workloads import training


class CausalConv(nn.Module):
  """A 1-D convolution that sees only the past (left padding)."""

  features: int
  kernel_size: int = 2
  dilation: int = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Args: x (B, T, C). Returns (B, T, features)."""
    pad = (self.kernel_size - 1) * self.dilation
    return nn.Conv(self.features, (self.kernel_size,), kernel_dilation=(self.dilation,),
                   padding=((pad, 0),), name="conv")(x)


class ResidualLayer(nn.Module):
  dilation: int
  residual_channels: int
  dilation_channels: int
  skip_channels: int

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Args: x (B, T, R). Returns (residual output (B, T, R), skip (B, T, S))."""
    z = CausalConv(2 * self.dilation_channels, dilation=self.dilation, name="dilated")(x)
    filt, gate = jnp.split(z, 2, axis=-1)
    gated = jnp.tanh(filt) * jax.nn.sigmoid(gate)
    residual = nn.Conv(self.residual_channels, (1,), name="residual")(gated)
    skip = nn.Conv(self.skip_channels, (1,), name="skip")(gated)
    return x + residual, skip


class Stack(nn.Module):
  num_layers: int
  residual_channels: int
  dilation_channels: int
  skip_channels: int

  @nn.compact
  def __call__(self, x):
    skips = []
    for j in range(self.num_layers):
      x, skip = ResidualLayer(2 ** j, self.residual_channels, self.dilation_channels, self.skip_channels,
                              name=f"layer_{j}")(x)
      skips.append(skip)
    return x, skips


class WaveNet(nn.Module):
  """WaveNet over mu-law quantised audio.

  Attributes:
    num_stacks, layers_per_stack: depth.
    residual_channels, dilation_channels, skip_channels: widths.
    quantization: output classes (256 for 8-bit mu-law).
  """

  num_stacks: int
  layers_per_stack: int
  residual_channels: int
  dilation_channels: int
  skip_channels: int
  quantization: int = 256

  @nn.compact
  def __call__(self, batch, train: bool = True) -> jax.Array:
    """Args: batch["audio"] (B, T) int32 in [0, quantization). Returns logits (B, T, Q)."""
    del train
    x = jax.nn.one_hot(batch["audio"], self.quantization)
    x = CausalConv(self.residual_channels, name="input_conv")(x)
    skips = []
    for s in range(self.num_stacks):
      x, stack_skips = Stack(self.layers_per_stack, self.residual_channels, self.dilation_channels,
                             self.skip_channels, name=f"stack_{s}")(x)
      skips.extend(stack_skips)
    return Postprocess(self.skip_channels, self.quantization, name="postprocess")(skips)


class Postprocess(nn.Module):
  skip_channels: int
  quantization: int

  @nn.compact
  def __call__(self, skips):
    total = sum(skips[1:], skips[0])
    hidden = nn.Conv(self.skip_channels, (1,), name="conv_1")(jax.nn.relu(total))
    return nn.Conv(self.quantization, (1,), name="conv_2")(jax.nn.relu(hidden))


def make_problem(num_stacks: int = 2, layers_per_stack: int = 9, length: int = 16000, batch: int = 4,
                 residual_channels: int = 64, dilation_channels: int = 64, skip_channels: int = 256,
                 quantization: int = 256) -> training.TrainingProblem:
  """A WaveNet training problem (next-sample prediction).

  Args:
    num_stacks: dilation stacks.
    layers_per_stack: layers per stack (dilations 1 .. 2**(layers - 1)).
    length: audio samples per example (16000 = 1 s at 16 kHz).
    batch: examples per step.
    residual_channels, dilation_channels, skip_channels: widths.
    quantization: mu-law levels.
  """
  shapes = lambda t: training.abstract_batch({"audio": ((batch, t), "int32"), "labels": ((batch, t), "int32")})
  model = WaveNet(num_stacks=num_stacks, layers_per_stack=layers_per_stack,
                  residual_channels=residual_channels, dilation_channels=dilation_channels,
                  skip_channels=skip_channels, quantization=quantization)
  return training.TrainingProblem(model=model, batch=shapes(length), init_batch=shapes(2 ** layers_per_stack),
                                  optimizer=training.adam(1e-3))
