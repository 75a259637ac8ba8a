"""Tests of the segment-recurrent Transformer-XL stack."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from go_jax.models import attention

# Unit tests are dominated by XLA compile time: compile without LLVM optimisation.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0,
                                                    "xla_llvm_disable_expensive_passes": True})

_HIDDEN, _HEADS, _LAYERS = 8, 2, 2


def _inputs(length=24, num_real=21):
  rng = np.random.default_rng(0)
  sequence = rng.normal(size=(length, _HIDDEN)).astype(np.float32)
  mask = np.arange(length) < num_real
  gates = (1.0 + 0.3 * rng.normal(size=(_LAYERS, _HIDDEN))).astype(np.float32)
  return sequence, mask, gates


def test_recurrence_with_full_memory_equals_block_causal_full_attention():
  # L = 24 positions in 3 segments of 8; memory 16 >= L - S holds every earlier
  # position, so segment s sees exactly segments 0..s, at the same relative
  # distances as in one full-sequence pass with a block-causal mask.
  sequence, mask, gates = _inputs()
  length, seg_len = sequence.shape[0], 8
  stack = attention.SegmentRecurrentStack(num_layers=_LAYERS, num_heads=_HEADS, hidden_size=_HIDDEN,
                                          segment_length=seg_len, memory_length=length - seg_len)
  variables = _jit(stack.init)(jax.random.key(0), sequence, mask, gates)
  recurrent = _jit(stack.apply)(variables, sequence, mask, gates)

  # Reference: the same layers (same parameters) as one segment of length L, no memory.
  full = attention.SegmentStep(num_layers=_LAYERS, num_heads=_HEADS, hidden_size=_HIDDEN)
  no_memory = attention.Memory(states=jnp.zeros((_LAYERS, 0, _HIDDEN)), mask=jnp.zeros((0,), bool))
  block_mask = attention.block_causal_mask(length, seg_len, mask)
  full_apply = _jit(full.apply)
  _, reference = full_apply({"params": variables["params"]["step"]}, no_memory, sequence, mask, gates,
                            block_mask)
  np.testing.assert_allclose(recurrent[mask], reference[mask], rtol=1e-4, atol=1e-5)

  # And the mask matters: unmasked full attention differs in early segments.
  everything = jnp.broadcast_to(jnp.asarray(mask)[None, :], (length, length))
  _, bidirectional = full_apply({"params": variables["params"]["step"]}, no_memory, sequence, mask, gates,
                                everything)
  assert not np.allclose(bidirectional[:seg_len], reference[:seg_len], atol=1e-3)


def test_memory_carries_context_and_padding_is_ignored():
  sequence, mask, gates = _inputs()
  seg_len = 8
  rng = np.random.default_rng(1)
  changed_first = sequence.copy()
  changed_first[:seg_len] += rng.normal(size=(seg_len, _HIDDEN)).astype(np.float32)
  changed_padding = sequence.copy()
  changed_padding[~mask] = 1e3

  stacks = {m: attention.SegmentRecurrentStack(num_layers=_LAYERS, num_heads=_HEADS, hidden_size=_HIDDEN,
                                               segment_length=seg_len, memory_length=m) for m in (0, seg_len)}
  # Parameters do not depend on the memory length: one set serves both stacks.
  variables = _jit(stacks[0].init)(jax.random.key(0), sequence, mask, gates)
  applies = {m: _jit(stack.apply) for m, stack in stacks.items()}

  def run(memory_length, inputs):
    return np.asarray(applies[memory_length](variables, inputs, mask, gates))

  # Without memory, segments are independent: segment 1 ignores segment 0.
  np.testing.assert_allclose(run(0, sequence)[seg_len:], run(0, changed_first)[seg_len:], atol=1e-6)
  # With memory, segment 1 sees segment 0; segment 2 sees it only through
  # layer-1 memories of segment 1 (2 layers), so it changes too.
  with_memory, with_memory_changed = run(seg_len, sequence), run(seg_len, changed_first)
  assert not np.allclose(with_memory[seg_len:2 * seg_len], with_memory_changed[seg_len:2 * seg_len])
  # Padding positions are never attended to.
  np.testing.assert_allclose(run(seg_len, changed_padding)[mask], with_memory[mask], atol=1e-5)


def test_sinusoid_is_antisymmetric_in_sine_part():
  encodings = np.asarray(attention.sinusoid(jnp.array([-3, 0, 3]), 6))
  np.testing.assert_allclose(encodings[0, :3], -encodings[2, :3], atol=1e-6)
  np.testing.assert_allclose(encodings[0, 3:], encodings[2, 3:], atol=1e-6)
  np.testing.assert_allclose(encodings[1], [0, 0, 0, 1, 1, 1], atol=1e-6)
