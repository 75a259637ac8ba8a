"""FLOP and byte formulas shared by the JAX and HLO importers.

The conventions follow XLA's ``HloCostAnalysis`` so that totals can be checked
against ``jax.jit(f).lower(...).compile().cost_analysis()``:

* a multiply-add is 2 FLOPs (dot and convolution);
* an elementwise arithmetic op is 1 FLOP per output element; transcendentals
  (exp, log, tanh, ...) are also counted as 1 FLOP per element here (XLA
  reports them separately as ``transcendentals``; they are a small share of
  any real model);
* a reduction costs one application of its reducer per input element;
* pure data movement (reshape, transpose, slice, gather, ...) costs 0 FLOPs;
* bytes read are the sizes of the operands, bytes written the size of the
  output (a slice reads only what it keeps, a gather only what it gathers).
"""

from __future__ import annotations

import math
from typing import Sequence

from go_jax.graph import ops


def num_elements(shape: Sequence[int]) -> int:
  """Number of elements of a tensor of ``shape`` (1 for a scalar)."""
  return int(math.prod(int(d) for d in shape))


def num_bytes(shape: Sequence[int], dtype: str) -> float:
  """Bytes of a dense tensor of ``shape`` and element type ``dtype`` (any spelling)."""
  return float(num_elements(shape) * ops.DTYPE_BYTES[ops.dtype_name(dtype)])


def dot_flops(out_shape: Sequence[int], lhs_shape: Sequence[int],
              lhs_contracting_dims: Sequence[int]) -> float:
  """FLOPs of a dot_general: 2 * output elements * contracted size."""
  contracted = math.prod(int(lhs_shape[d]) for d in lhs_contracting_dims)
  return 2.0 * num_elements(out_shape) * contracted


def conv_flops(out_shape: Sequence[int], kernel_shape: Sequence[int], kernel_out_feature_dim: int,
               batch_group_count: int = 1) -> float:
  """FLOPs of a (possibly grouped/depthwise) convolution.

  Each output element is a dot product over the kernel's spatial window and its
  input features per group, i.e. ``prod(kernel_shape) / kernel_out_features``
  multiply-adds (the kernel already holds ``in_features / feature_groups``
  input features). For ``batch_group_count > 1`` (filter gradients) the output
  features are split across batch groups, which the kernel shape already
  reflects in the same way.

  Args:
    out_shape: output shape.
    kernel_shape: kernel (rhs) shape.
    kernel_out_feature_dim: index of the kernel's output-feature dimension.
    batch_group_count: XLA's batch_group_count (unused in the count, kept for
      call-site clarity).
  """
  del batch_group_count
  per_output = num_elements(kernel_shape) / max(int(kernel_shape[kernel_out_feature_dim]), 1)
  return 2.0 * num_elements(out_shape) * per_output


def elementwise_flops(out_shape: Sequence[int]) -> float:
  """FLOPs of an elementwise op: one per output element."""
  return float(num_elements(out_shape))


def reduce_flops(in_shape: Sequence[int], num_operands: int = 1) -> float:
  """FLOPs of a reduction: one reducer application per input element and operand."""
  return float(num_elements(in_shape) * num_operands)


def reduce_window_flops(out_shape: Sequence[int], window: Sequence[int]) -> float:
  """FLOPs of a windowed reduction (pooling): window size per output element."""
  return float(num_elements(out_shape) * num_elements(window))


# ---------------------------------------------------------------------------
# Additions for the JAX importer (XLA-exact variants; existing formulas above
# are unchanged).
# ---------------------------------------------------------------------------

#: FLOPs XLA counts per 32-bit word of random bits: the threefry2x32 hash
#: expands to ~45 integer adds/xors/shifts per output word (measured with
#: ``cost_analysis()`` of ``jax.random.bits`` on XLA:CPU, jax 0.10).
THREEFRY_FLOPS_PER_WORD = 45.0


def _valid_window_positions(in_size: int, out_size: int, kernel_size: int, stride: int, pad_low: int,
                            lhs_dilation: int, rhs_dilation: int) -> int:
  """Number of (output, kernel tap) pairs of one spatial dim that hit a real input element."""
  count = 0
  # Loop over the kernel taps; for each, the valid outputs form an arithmetic
  # progression, so counting them is O(out_size) at worst and usually O(1).
  for k in range(kernel_size):
    offset = k * rhs_dilation - pad_low  # dilated-input index of output 0
    # Output o reads dilated index offset + o * stride; it is a real element iff
    # that index is a multiple of lhs_dilation in [0, (in_size - 1) * lhs_dilation].
    hi = (in_size - 1) * lhs_dilation
    if lhs_dilation == 1:
      o_lo = max(0, (-offset + stride - 1) // stride)
      o_hi = min(out_size - 1, (hi - offset) // stride)
      count += max(0, o_hi - o_lo + 1)
    else:
      for o in range(out_size):
        idx = offset + o * stride
        if 0 <= idx <= hi and idx % lhs_dilation == 0:
          count += 1
  return count


def conv_flops_windowed(lhs_shape: Sequence[int], rhs_shape: Sequence[int], out_shape: Sequence[int],
                        lhs_spec: Sequence[int], rhs_spec: Sequence[int], out_spec: Sequence[int],
                        window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                        lhs_dilation: Sequence[int] | None = None,
                        rhs_dilation: Sequence[int] | None = None,
                        feature_group_count: int = 1, batch_group_count: int = 1) -> float:
  """FLOPs of a convolution counted exactly as XLA's ``HloCostAnalysis`` does.

  Unlike :func:`conv_flops` (an upper bound: every output element sees the
  whole kernel window), this counts only the (output, kernel tap) pairs that
  read a real input element, so padding at the borders, input (lhs) dilation
  of transposed convolutions and the huge "kernels" of weight-gradient
  convolutions are costed correctly::

    FLOPs = 2 * (in_features / feature_group_count) * out_features
              * (batch / batch_group_count) * prod_d valid_positions(d)

  Args:
    lhs_shape: input shape, e.g. (N, H, W, C) for NHWC.
    rhs_shape: kernel shape, e.g. (KH, KW, C / groups, O) for HWIO.
    out_shape: output shape.
    lhs_spec: (batch dim, feature dim, *spatial dims) of the input.
    rhs_spec: (out-feature dim, in-feature dim, *spatial dims) of the kernel.
    out_spec: (batch dim, feature dim, *spatial dims) of the output.
    window_strides: stride per spatial dim.
    padding: (low, high) padding per spatial dim (in dilated-input units).
    lhs_dilation: input dilation per spatial dim (default 1).
    rhs_dilation: kernel dilation per spatial dim (default 1).
    feature_group_count: grouped / depthwise convolution groups.
    batch_group_count: batch groups (filter gradients of grouped convs).

  Returns:
    FLOPs (one multiply-add = 2).
  """
  num_spatial = len(lhs_spec) - 2
  lhs_dilation = tuple(lhs_dilation or (1,) * num_spatial)
  rhs_dilation = tuple(rhs_dilation or (1,) * num_spatial)
  batch = int(lhs_shape[lhs_spec[0]])
  in_features = int(lhs_shape[lhs_spec[1]])
  out_features = int(out_shape[out_spec[1]])
  positions = 1
  for d in range(num_spatial):
    positions *= _valid_window_positions(
        in_size=int(lhs_shape[lhs_spec[2 + d]]), out_size=int(out_shape[out_spec[2 + d]]),
        kernel_size=int(rhs_shape[rhs_spec[2 + d]]), stride=int(window_strides[d]),
        pad_low=int(padding[d][0]), lhs_dilation=int(lhs_dilation[d]),
        rhs_dilation=int(rhs_dilation[d]))
  fmas = ((in_features // max(int(feature_group_count), 1)) * out_features
          * (batch // max(int(batch_group_count), 1)) * positions)
  return 2.0 * fmas


def xla_reduce_flops(in_shape: Sequence[int], out_shape: Sequence[int], reducer_flops: float = 1.0) -> float:
  """FLOPs of a reduction as XLA counts them: ``(in - out elements) * reducer FLOPs``.

  Reducing n elements to one takes n - 1 reducer applications; ``reducer_flops``
  is the cost of one application (1 for add/max/min, more for the
  (value, index) reducer of argmax).
  """
  return float(max(num_elements(in_shape) - num_elements(out_shape), 0)) * float(reducer_flops)


def sort_flops(shape: Sequence[int], num_keys: int = 1) -> float:
  """FLOPs of a sort as XLA counts them: ``n * ceil(log2 n)`` comparisons per key.

  ``n`` is the total number of elements of one operand (XLA does not use the
  sorted dimension), measured against ``cost_analysis()``.
  """
  n = num_elements(shape)
  return float(n * max(math.ceil(math.log2(n)), 1) * max(int(num_keys), 1)) if n > 1 else 0.0


def select_and_scatter_flops(source_shape: Sequence[int], window: Sequence[int]) -> float:
  """FLOPs of a select-and-scatter (max-pooling backward).

  For every source (output-gradient) element the select function compares the
  window's elements (window-size FLOPs) and the scatter adds it once.
  """
  n = num_elements(source_shape)
  return float(n * num_elements(window) + n)


def integer_pow_flops(out_shape: Sequence[int], exponent: int) -> float:
  """FLOPs of ``x ** exponent`` for an integer exponent, as square-and-multiply.

  ``bit_length - 1`` squarings plus ``popcount - 1`` multiplies per element,
  plus one division for a negative exponent (how JAX lowers ``integer_pow``).
  """
  y = abs(int(exponent))
  if y == 0:
    return 0.0
  multiplies = (y.bit_length() - 1) + (bin(y).count("1") - 1) + (1 if exponent < 0 else 0)
  return float(num_elements(out_shape) * multiplies)


def rng_bits_flops(out_shape: Sequence[int]) -> float:
  """FLOPs of generating random 32-bit words with threefry (see :data:`THREEFRY_FLOPS_PER_WORD`)."""
  return float(num_elements(out_shape)) * THREEFRY_FLOPS_PER_WORD
