"""AmoebaNet-A (Real et al. 2019): a NASNet-style cell network found by evolution.

The cell structure follows the NASNet search space as implemented in
tensorflow/tpu's ``amoeba_net``: a cell takes the outputs of the two previous
cells, projects both to ``filters`` channels (relu -> 1x1 conv -> BN, with a
factorized reduction when the spatial sizes differ), then builds 5 blocks,
each the sum of two ops applied to earlier hidden states, and concatenates the
hidden states no block consumed. Ops: ``separable_KxK_2`` (twice relu ->
depthwise KxK -> pointwise 1x1 -> BN), ``avg_pool_3x3``, ``max_pool_3x3``,
``none`` (identity) and ``1x7_7x1``. In reduction cells the ops on the cell
inputs have stride 2. The genotype is AmoebaNet-A's.

Network (ImageNet): ``stem`` (3x3 conv, stride 2), two reduction cells, then
``num_cells / 3`` normal cells, a reduction cell, ``num_cells / 3`` normal
cells, a reduction cell, ``num_cells / 3`` normal cells, and ``head``. Cells
are named ``cell_<k>`` in order (stem cells included).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from go_jax.workloads import training


@dataclasses.dataclass(frozen=True)
class Genotype:
  """A NASNet-space cell: ops[2b], ops[2b+1] on hidden states indices[2b], indices[2b+1]."""

  operations: tuple[str, ...]
  hiddenstate_indices: tuple[int, ...]
  used_hiddenstates: tuple[int, ...]


AMOEBA_A_NORMAL = Genotype(
    operations=("avg_pool_3x3", "max_pool_3x3", "separable_3x3_2", "none", "none", "avg_pool_3x3",
                "separable_3x3_2", "separable_5x5_2", "avg_pool_3x3", "separable_3x3_2"),
    hiddenstate_indices=(0, 0, 1, 1, 0, 1, 0, 2, 5, 0),
    used_hiddenstates=(1, 0, 1, 0, 0, 1, 0))
AMOEBA_A_REDUCTION = Genotype(
    operations=("separable_3x3_2", "avg_pool_3x3", "max_pool_3x3", "separable_7x7_2", "max_pool_3x3",
                "max_pool_3x3", "separable_3x3_2", "1x7_7x1", "avg_pool_3x3", "separable_7x7_2"),
    hiddenstate_indices=(0, 1, 0, 1, 0, 3, 2, 4, 2, 1),
    used_hiddenstates=(1, 1, 1, 0, 0, 0, 0))


def _bn(train, name=None):
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-3, name=name)


class ReluConvBN(nn.Module):
  features: int
  kernel: tuple[int, int] = (1, 1)
  strides: int = 1

  @nn.compact
  def __call__(self, x, train=True):
    x = nn.Conv(self.features, self.kernel, (self.strides,) * 2, padding="SAME", use_bias=False,
                name="conv")(jax.nn.relu(x))
    return _bn(train, "bn")(x)


class SeparableStack(nn.Module):
  """``separable_KxK_N``: N x (relu -> depthwise KxK -> pointwise 1x1 -> BN)."""

  features: int
  kernel: int
  num_layers: int
  strides: int = 1

  @nn.compact
  def __call__(self, x, train=True):
    for i in range(self.num_layers):
      strides = self.strides if i == 0 else 1
      x = nn.Conv(x.shape[-1], (self.kernel, self.kernel), (strides, strides), padding="SAME",
                  feature_group_count=x.shape[-1], use_bias=False, name=f"depthwise_{i}")(jax.nn.relu(x))
      x = nn.Conv(self.features, (1, 1), use_bias=False, name=f"pointwise_{i}")(x)
      x = _bn(train, f"bn_{i}")(x)
    return x


class FactorizedReduction(nn.Module):
  """Halves the spatial size with two offset 1x1 stride-2 paths (NASNet)."""

  features: int

  @nn.compact
  def __call__(self, x, train=True):
    x = jax.nn.relu(x)
    path1 = nn.Conv(self.features // 2, (1, 1), use_bias=False, name="path1")(x[:, ::2, ::2])
    shifted = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))[:, 1:, 1:]
    path2 = nn.Conv(self.features - self.features // 2, (1, 1), use_bias=False, name="path2")(shifted[:, ::2, ::2])
    return _bn(train, "bn")(jnp.concatenate([path1, path2], axis=-1))


class CellOp(nn.Module):
  """One op of a block, by its NASNet-space name."""

  operation: str
  features: int
  strides: int

  @nn.compact
  def __call__(self, x, train=True):
    op = self.operation
    if op.startswith("separable_"):
      size, layers = op[len("separable_"):].split("_")
      return SeparableStack(self.features, int(size.split("x")[0]), int(layers), self.strides, name="sep")(x, train)
    if op in ("avg_pool_3x3", "max_pool_3x3"):
      pool = nn.avg_pool if op.startswith("avg") else nn.max_pool
      x = pool(x, (3, 3), (self.strides,) * 2, padding="SAME")
      if x.shape[-1] != self.features:
        x = ReluConvBN(self.features, name="project")(x, train)
      return x
    if op == "1x7_7x1":
      x = ReluConvBN(self.features, (1, 7), self.strides, name="conv_1x7")(x, train)
      return ReluConvBN(self.features, (7, 1), name="conv_7x1")(x, train)
    if op == "none":
      if self.strides > 1 or x.shape[-1] != self.features:
        return ReluConvBN(self.features, (1, 1), self.strides, name="project")(x, train)
      return x
    raise ValueError(f"unknown AmoebaNet op {op!r}")


class Cell(nn.Module):
  genotype: Genotype
  filters: int
  reduction: bool

  @nn.compact
  def __call__(self, prev, cur, train=True):
    """Args: prev, cur: outputs of the cell before last and of the last cell (B, H, W, C)."""
    if prev.shape[1] != cur.shape[1]:
      prev = FactorizedReduction(self.filters, name="reduce_prev")(prev, train)
    elif prev.shape[-1] != self.filters:
      prev = ReluConvBN(self.filters, name="project_prev")(prev, train)
    cur = ReluConvBN(self.filters, name="project_cur")(cur, train)
    states = [cur, prev]
    g = self.genotype
    for b in range(len(g.operations) // 2):
      outs = []
      for side in range(2):
        index = g.hiddenstate_indices[2 * b + side]
        strides = 2 if self.reduction and index < 2 else 1
        outs.append(CellOp(g.operations[2 * b + side], self.filters, strides, name=f"block_{b}_op_{side}")(
            states[index], train))
      states.append(outs[0] + outs[1])
    used = list(g.used_hiddenstates) + [0] * (len(states) - len(g.used_hiddenstates))
    return jnp.concatenate([s for s, u in zip(states, used) if not u], axis=-1)


class AmoebaNet(nn.Module):
  """AmoebaNet-A for ImageNet.

  Attributes:
    num_cells: normal cells in total (split in three stages).
    filters: channels per block in the first stage (doubled at each reduction).
    num_classes: output classes.
  """

  num_cells: int = 18
  filters: int = 128
  num_classes: int = 1000

  @nn.compact
  def __call__(self, batch, train: bool = True):
    x = nn.Conv(32, (3, 3), (2, 2), padding="SAME", use_bias=False, name="stem")(batch["images"])
    x = _bn(train, "stem_bn")(x)
    plan = [(AMOEBA_A_REDUCTION, self.filters // 4, True), (AMOEBA_A_REDUCTION, self.filters // 2, True)]
    per_stage = max(1, self.num_cells // 3)
    for stage in range(3):
      if stage:
        plan.append((AMOEBA_A_REDUCTION, self.filters * 2 ** stage, True))
      plan += [(AMOEBA_A_NORMAL, self.filters * 2 ** stage, False)] * per_stage
    prev, cur = x, x
    for k, (genotype, filters, reduction) in enumerate(plan):
      prev, cur = cur, Cell(genotype, filters, reduction, name=f"cell_{k}")(prev, cur, train)
    return nn.Dense(self.num_classes, name="head")(jnp.mean(jax.nn.relu(cur), axis=(1, 2)))


def make_problem(num_cells: int = 18, filters: int = 128, batch: int = 32, image_size: int = 224,
                 num_classes: int = 1000) -> training.TrainingProblem:
  """An AmoebaNet-A training problem (RMSProp, as in the paper).

  Args:
    num_cells: normal cells (a multiple of 3).
    filters: first-stage filters per block.
    batch: images per step.
    image_size: square input resolution.
    num_classes: output classes.
  """
  shapes = lambda b, s: training.abstract_batch({"images": ((b, s, s, 3), "float32"), "labels": ((b,), "int32")})
  model = AmoebaNet(num_cells=num_cells, filters=filters, num_classes=num_classes)
  return training.TrainingProblem(model=model, batch=shapes(batch, image_size), init_batch=shapes(1, 64),
                                  optimizer=optax.rmsprop(0.256, decay=0.9, eps=1.0), mutable=("batch_stats",))
