"""ResNet-50 v1.5 (He et al. 2016) trained with SGD + momentum.

Module names used by the expert placement: ``stem``, ``block_<k>`` (the 16
bottleneck blocks in order), ``head``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from go_jax.workloads import training


class ConvBN(nn.Module):
  """Conv -> BatchNorm (-> ReLU)."""

  features: int
  kernel: tuple[int, int] = (3, 3)
  strides: tuple[int, int] = (1, 1)
  relu: bool = True
  padding: str = "SAME"

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = nn.Conv(self.features, self.kernel, self.strides, padding=self.padding, use_bias=False, name="conv")(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name="bn")(x)
    return jax.nn.relu(x) if self.relu else x


class Bottleneck(nn.Module):
  features: int
  strides: int = 1

  @nn.compact
  def __call__(self, x, train: bool = True):
    out = ConvBN(self.features, (1, 1), name="conv_1")(x, train)
    out = ConvBN(self.features, (3, 3), (self.strides, self.strides), name="conv_2")(out, train)
    out = ConvBN(4 * self.features, (1, 1), relu=False, name="conv_3")(out, train)
    if x.shape != out.shape:
      x = ConvBN(4 * self.features, (1, 1), (self.strides, self.strides), relu=False, name="projection")(x, train)
    return jax.nn.relu(x + out)


class ResNet(nn.Module):
  """Bottleneck ResNet.

  Attributes:
    stage_sizes: blocks per stage ((3, 4, 6, 3) for ResNet-50).
    width: channels of the first stage's bottleneck.
    num_classes: output classes.
  """

  stage_sizes: tuple[int, ...] = (3, 4, 6, 3)
  width: int = 64
  num_classes: int = 1000

  @nn.compact
  def __call__(self, batch, train: bool = True):
    """Args: batch["images"] (B, H, W, 3) float32. Returns logits (B, num_classes)."""
    x = Stem(self.width, name="stem")(batch["images"], train)
    k = 0
    for stage, size in enumerate(self.stage_sizes):
      for i in range(size):
        strides = 2 if i == 0 and stage > 0 else 1
        x = Bottleneck(self.width * 2 ** stage, strides, name=f"block_{k}")(x, train)
        k += 1
    return nn.Dense(self.num_classes, name="head")(jnp.mean(x, axis=(1, 2)))


class Stem(nn.Module):
  width: int

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = ConvBN(self.width, (7, 7), (2, 2), name="conv")(x, train)
    return nn.max_pool(x, (3, 3), (2, 2), padding="SAME")


def momentum_sgd(learning_rate: float = 0.1, weight_decay: float = 1e-4) -> optax.GradientTransformation:
  """SGD with Nesterov-free momentum 0.9 and L2 weight decay (the ResNet recipe)."""
  return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate, momentum=0.9))


def make_problem(depth: int = 50, batch: int = 64, image_size: int = 224, num_classes: int = 1000,
                 width: int = 64) -> training.TrainingProblem:
  """A ResNet training problem.

  Args:
    depth: 50, 101 or 152 (bottleneck variants).
    batch: images per step.
    image_size: square input resolution.
    num_classes: output classes.
    width: first-stage bottleneck channels.
  """
  stages = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
  if depth not in stages:
    raise ValueError(f"ResNet depth must be one of {sorted(stages)}, got {depth}")
  batch_shapes = training.abstract_batch({"images": ((batch, image_size, image_size, 3), "float32"),
                         "labels": ((batch,), "int32")})
  init_shapes = training.abstract_batch({"images": ((1, 64, 64, 3), "float32"), "labels": ((1,), "int32")})
  return training.TrainingProblem(model=ResNet(stages[depth], width, num_classes), batch=batch_shapes,
                                  init_batch=init_shapes, optimizer=momentum_sgd(), mutable=("batch_stats",))
