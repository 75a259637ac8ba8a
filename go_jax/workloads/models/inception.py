"""Inception-v3 (Szegedy et al. 2016), trained with RMSProp as in the paper.

Faithful block structure: the stem (``stem``: Conv2d_1a .. Conv2d_4a with max
pools), ``mixed_5b/5c/5d`` (35x35 blocks), ``mixed_6a`` (reduction),
``mixed_6b..6e`` (17x17 blocks with factorized 7x7), ``aux_head`` (auxiliary
classifier on mixed_6e), ``mixed_7a`` (reduction), ``mixed_7b/7c`` (8x8
blocks with split 1x3/3x1), ``head``. Every conv is conv -> batch norm -> relu.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from go_jax.workloads import training
from go_jax.workloads.models import resnet


def conv(features, kernel, strides=1, padding="SAME", name=None):
  """A conv -> BN -> relu block (the ``BasicConv2d`` of Inception-v3)."""
  return resnet.ConvBN(features, tuple(kernel), (strides, strides), padding=padding, name=name)


def avg_pool(x, window=3, strides=1, padding="SAME"):
  return nn.avg_pool(x, (window, window), (strides, strides), padding=padding)


def max_pool(x, window=3, strides=2, padding="VALID"):
  return nn.max_pool(x, (window, window), (strides, strides), padding=padding)


class Stem(nn.Module):
  @nn.compact
  def __call__(self, x, train=True):
    x = conv(32, (3, 3), 2, "VALID", name="conv2d_1a")(x, train)
    x = conv(32, (3, 3), 1, "VALID", name="conv2d_2a")(x, train)
    x = conv(64, (3, 3), name="conv2d_2b")(x, train)
    x = max_pool(x)
    x = conv(80, (1, 1), name="conv2d_3b")(x, train)
    x = conv(192, (3, 3), 1, "VALID", name="conv2d_4a")(x, train)
    return max_pool(x)


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x, train=True):
    b1 = conv(64, (1, 1), name="branch1x1")(x, train)
    b5 = conv(64, (5, 5), name="branch5x5_2")(conv(48, (1, 1), name="branch5x5_1")(x, train), train)
    b3 = conv(96, (3, 3), name="branch3x3dbl_1")(conv(64, (1, 1), name="branch3x3dbl_0")(x, train), train)
    b3 = conv(96, (3, 3), name="branch3x3dbl_2")(b3, train)
    bp = conv(self.pool_features, (1, 1), name="branch_pool")(avg_pool(x), train)
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  @nn.compact
  def __call__(self, x, train=True):
    b3 = conv(384, (3, 3), 2, "VALID", name="branch3x3")(x, train)
    d = conv(96, (3, 3), name="branch3x3dbl_2")(conv(64, (1, 1), name="branch3x3dbl_1")(x, train), train)
    d = conv(96, (3, 3), 2, "VALID", name="branch3x3dbl_3")(d, train)
    return jnp.concatenate([b3, d, max_pool(x)], axis=-1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x, train=True):
    c7 = self.channels_7x7
    b1 = conv(192, (1, 1), name="branch1x1")(x, train)
    b7 = conv(c7, (1, 1), name="branch7x7_1")(x, train)
    b7 = conv(c7, (1, 7), name="branch7x7_2")(b7, train)
    b7 = conv(192, (7, 1), name="branch7x7_3")(b7, train)
    d = conv(c7, (1, 1), name="branch7x7dbl_1")(x, train)
    d = conv(c7, (7, 1), name="branch7x7dbl_2")(d, train)
    d = conv(c7, (1, 7), name="branch7x7dbl_3")(d, train)
    d = conv(c7, (7, 1), name="branch7x7dbl_4")(d, train)
    d = conv(192, (1, 7), name="branch7x7dbl_5")(d, train)
    bp = conv(192, (1, 1), name="branch_pool")(avg_pool(x), train)
    return jnp.concatenate([b1, b7, d, bp], axis=-1)


class InceptionD(nn.Module):
  @nn.compact
  def __call__(self, x, train=True):
    b3 = conv(320, (3, 3), 2, "VALID", name="branch3x3_2")(conv(192, (1, 1), name="branch3x3_1")(x, train), train)
    b7 = conv(192, (1, 1), name="branch7x7x3_1")(x, train)
    b7 = conv(192, (1, 7), name="branch7x7x3_2")(b7, train)
    b7 = conv(192, (7, 1), name="branch7x7x3_3")(b7, train)
    b7 = conv(192, (3, 3), 2, "VALID", name="branch7x7x3_4")(b7, train)
    return jnp.concatenate([b3, b7, max_pool(x)], axis=-1)


class InceptionE(nn.Module):
  @nn.compact
  def __call__(self, x, train=True):
    b1 = conv(320, (1, 1), name="branch1x1")(x, train)
    b3 = conv(384, (1, 1), name="branch3x3_1")(x, train)
    b3 = jnp.concatenate([conv(384, (1, 3), name="branch3x3_2a")(b3, train),
                          conv(384, (3, 1), name="branch3x3_2b")(b3, train)], axis=-1)
    d = conv(384, (3, 3), name="branch3x3dbl_2")(conv(448, (1, 1), name="branch3x3dbl_1")(x, train), train)
    d = jnp.concatenate([conv(384, (1, 3), name="branch3x3dbl_3a")(d, train),
                         conv(384, (3, 1), name="branch3x3dbl_3b")(d, train)], axis=-1)
    bp = conv(192, (1, 1), name="branch_pool")(avg_pool(x), train)
    return jnp.concatenate([b1, b3, d, bp], axis=-1)


class AuxHead(nn.Module):
  num_classes: int

  @nn.compact
  def __call__(self, x, train=True):
    x = avg_pool(x, 5, 3, "VALID")
    x = conv(128, (1, 1), name="conv0")(x, train)
    x = conv(768, (5, 5), 1, "VALID", name="conv1")(x, train)
    return nn.Dense(self.num_classes, name="fc")(jnp.mean(x, axis=(1, 2)))


class InceptionV3(nn.Module):
  """Inception-v3 classifier; returns ``(logits, aux_logits)``, each (B, classes)."""

  num_classes: int = 1000

  @nn.compact
  def __call__(self, batch, train: bool = True):
    x = Stem(name="stem")(batch["images"], train)
    x = InceptionA(32, name="mixed_5b")(x, train)
    x = InceptionA(64, name="mixed_5c")(x, train)
    x = InceptionA(64, name="mixed_5d")(x, train)
    x = InceptionB(name="mixed_6a")(x, train)
    for name, c7 in (("mixed_6b", 128), ("mixed_6c", 160), ("mixed_6d", 160), ("mixed_6e", 192)):
      x = InceptionC(c7, name=name)(x, train)
    aux = AuxHead(self.num_classes, name="aux_head")(x, train)
    x = InceptionD(name="mixed_7a")(x, train)
    x = InceptionE(name="mixed_7b")(x, train)
    x = InceptionE(name="mixed_7c")(x, train)
    logits = nn.Dense(self.num_classes, name="head")(jnp.mean(x, axis=(1, 2)))
    return logits, aux


def classification_loss_with_aux(outputs, batch, aux_weight: float = 0.4) -> jax.Array:
  """Cross-entropy of the main logits plus ``aux_weight`` x that of the auxiliary ones."""
  logits, aux = outputs
  main = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).mean()
  return main + aux_weight * optax.softmax_cross_entropy_with_integer_labels(aux, batch["labels"]).mean()


def make_problem(batch: int = 32, image_size: int = 299, num_classes: int = 1000) -> training.TrainingProblem:
  """An Inception-v3 training problem (RMSProp, decay 0.9, epsilon 1.0, as in the paper).

  Args:
    batch: images per step.
    image_size: square input resolution (>= 75; 299 in the paper).
    num_classes: output classes.
  """
  shapes = lambda b, s: training.abstract_batch({"images": ((b, s, s, 3), "float32"), "labels": ((b,), "int32")})
  return training.TrainingProblem(model=InceptionV3(num_classes), batch=shapes(batch, image_size),
                                  init_batch=shapes(1, 299), loss=classification_loss_with_aux,
                                  optimizer=optax.rmsprop(0.045, decay=0.9, eps=1.0), mutable=("batch_stats",))
