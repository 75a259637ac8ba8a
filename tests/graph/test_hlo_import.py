"""Tests for go_jax.graph.hlo_import: hand-checked snippets, Flax models, bad input."""

import math
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from go_jax.graph import benchmark
from go_jax.graph import graph
from go_jax.graph import hlo_import
from go_jax.graph import ops

_TESTDATA = os.path.join(os.path.dirname(__file__), "testdata")


def _import(text, **kwargs):
  return hlo_import.from_hlo_text(text, source="model.hlo", **kwargs)


def _node(g, name):
  (ids,) = np.nonzero(np.asarray(g.node_names) == name)
  assert ids.size == 1, f"{name!r} found {ids.size} times in {g.node_names}"
  return int(ids[0])


def _edges(g):
  """{(producer name, consumer name): bytes}."""
  return {(g.node_names[s], g.node_names[r]): b for s, r, b in zip(g.senders, g.receivers, g.edge_bytes)}


def _flops_of_type(g, op_type):
  return float(g.flops[g.op_type == ops.OP_TYPE_ID[op_type]].sum())


# -----------------------------------------------------------------------------
# Hand-written snippets with hand-computed expectations.
# -----------------------------------------------------------------------------

_DOT = """\
HloModule dot_add, entry_computation_layout={(f32[4,8]{1,0}, f32[8,16]{1,0})->f32[4,16]{1,0}}

ENTRY main.5 {
  x = f32[4,8]{1,0} parameter(0)
  w = f32[8,16]{1,0} parameter(1)
  dot.1 = f32[4,16]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  c = f32[] constant(1)
  b = f32[4,16]{1,0} broadcast(c), dimensions={}
  ROOT add.2 = f32[4,16]{1,0} add(dot.1, b)
}
"""


def test_dot_nodes_flops_bytes_edges():
  g = _import(_DOT)
  assert g.name == "dot_add"
  assert g.num_nodes == 6
  assert [g.op_type_name(i) for i in range(6)] == [
      "parameter", "parameter", "dot", "constant", "broadcast", "elementwise"]
  dot = _node(g, "dot.1")
  assert g.flops[dot] == 2 * 4 * 16 * 8  # 2 * out elements * contracted size
  assert g.bytes_read[dot] == 4 * 8 * 4 + 8 * 16 * 4
  assert g.bytes_written[dot] == g.output_bytes[dot] == 4 * 16 * 4
  assert g.shape(dot) == (4, 16) and g.dtype_name(dot) == "f32"
  assert g.flops[_node(g, "add.2")] == 64
  assert g.flops.sum() == 1024 + 64
  assert g.param_bytes[_node(g, "x")] == 128 and g.param_bytes[_node(g, "w")] == 512
  assert g.param_bytes.sum() == 640
  assert _edges(g) == {("x", "dot.1"): 128, ("w", "dot.1"): 512, ("c", "b"): 4,
                       ("dot.1", "add.2"): 256, ("b", "add.2"): 256}
  assert g.meta["source_format"] == "hlo" and g.meta["hlo_instructions"] == 6


def test_convolution_flops():
  text = """HloModule conv
ENTRY conv {
  x = f32[2,10,10,3]{3,2,1,0} parameter(0)
  k = f32[3,3,3,16]{3,2,1,0} parameter(1)
  y = f32[2,8,8,16]{3,2,1,0} convolution(x, k), window={size=3x3}, dim_labels=b01f_01io->b01f
  kd = f32[3,3,1,16]{3,2,1,0} parameter(2)
  z = f32[2,8,8,16]{3,2,1,0} convolution(y, kd), window={size=3x3 pad=1_1x1_1},
      dim_labels=b01f_01io->b01f, feature_group_count=16
  xc = f32[2,3,10,10]{3,2,1,0} parameter(3)
  ko = f32[16,3,3,3]{3,2,1,0} parameter(4)
  ROOT yc = f32[2,16,8,8]{3,2,1,0} convolution(xc, ko), window={size=3x3}, dim_labels=bf01_oi01->bf01
}"""
  g = _import(text)
  # Each output element is a 3x3x3 dot product: 2 * (2*8*8*16) * 27.
  assert g.flops[_node(g, "y")] == 2 * 2048 * 27 == 110592
  # Depthwise (16 groups of one input feature), padded: per spatial dim the
  # 3 taps x 8 outputs minus the 2 that fall on padding hit real input.
  assert g.flops[_node(g, "z")] == 2 * 2 * 16 * 22 * 22
  # Kernel output features first (oi01): same count.
  assert g.flops[_node(g, "yc")] == 110592
  assert g.op_histogram() == {"parameter": 5, "conv": 3}


def test_tuple_and_get_tuple_element_connect_real_producers():
  text = """HloModule t
ENTRY t {
  a = f32[4] parameter(0)
  b = f32[8] parameter(1)
  t = (f32[4], f32[8]) tuple(a, b)
  g = f32[8] get-tuple-element(t), index=1
  ROOT n = f32[8] negate(g)
}"""
  g = _import(text)
  assert g.node_names == ("a", "b", "n")  # no tuple plumbing nodes
  assert _edges(g) == {("b", "n"): 32}


def test_multi_output_op_edges_carry_element_bytes():
  # A variadic (argmax-style) reduce: one node with a tuple output.
  text = """HloModule argmax
region {
  v0 = f32[] parameter(0)
  i0 = s32[] parameter(1)
  v1 = f32[] parameter(2)
  i1 = s32[] parameter(3)
  gt = pred[] compare(v0, v1), direction=GT
  v = f32[] select(gt, v0, v1)
  i = s32[] select(gt, i0, i1)
  ROOT t = (f32[], s32[]) tuple(v, i)
}
ENTRY e {
  x = f32[4,32] parameter(0)
  idx = s32[4,32] iota(), iota_dimension=1
  ninf = f32[] constant(-inf)
  zero = s32[] constant(0)
  r = (f32[4], s32[4]) reduce(x, idx, ninf, zero), dimensions={1}, to_apply=region
  best = s32[4] get-tuple-element(r), index=1
  ROOT out = s32[4] negate(best)
  both = f32[4] add(r.v, r.v)
  r.v = f32[4] get-tuple-element(r), index=0
}"""
  g = _import(text)
  r = _node(g, "r")
  assert g.dtype_name(r) == "tuple" and g.output_bytes[r] == 32
  assert g.flops[r] == (128 - 4) * 3  # 3 scalar ops per application, n - 1 per row
  edges = _edges(g)
  assert edges[("r", "out")] == 16 and edges[("r", "both")] == 16  # one element each
  assert edges[("x", "r")] == 512 and edges[("idx", "r")] == 512


def test_call_is_inlined_and_parameters_wired():
  text = """HloModule call
square {
  p = f32[16] parameter(0)
  ROOT m = f32[16] multiply(p, p)
}
ENTRY e {
  x = f32[16] parameter(0)
  c = f32[16] call(x), to_apply=square
  c2 = f32[16] call(c), to_apply=square
  ROOT y = f32[16] exponential(c2)
}"""
  g = _import(text)
  assert g.node_names == ("x", "c/m", "c2/m", "y")
  assert _edges(g) == {("x", "c/m"): 64, ("c/m", "c2/m"): 64, ("c2/m", "y"): 64}
  assert g.flops.sum() == 48
  assert g.op_type_name(_node(g, "y")) == "transcendental"


def test_fusion_is_inlined():
  text = """HloModule post_opt, is_scheduled=true
fused_computation {
  p0 = f32[8]{0} parameter(0)
  p1 = f32[8]{0} parameter(1)
  m = f32[8]{0} multiply(p0, p1)
  ROOT e = f32[8]{0} exponential(m)
}, execution_thread="main"
ENTRY main {
  a = f32[8]{0} parameter(0)
  b = f32[8]{0} parameter(1)
  ROOT f = f32[8]{0} fusion(a, b), kind=kLoop, calls=fused_computation
}"""
  g = _import(text)
  assert g.node_names == ("a", "b", "f/m", "f/e")
  assert _edges(g) == {("a", "f/m"): 32, ("b", "f/m"): 32, ("f/m", "f/e"): 32}
  assert g.flops.sum() == 16



_FUSIONS = """HloModule post_opt, is_scheduled=true
fused_mul_exp {
  p0 = f32[8]{0} parameter(0)
  p1 = f32[8]{0} parameter(1)
  m = f32[8]{0} multiply(p0, p1)
  ROOT e = f32[8]{0} exponential(m)
}
fused_dot_two_outputs {
  q0 = f32[8]{0} parameter(0)
  r = f32[2,4]{1,0} reshape(q0)
  w = f32[4,3]{1,0} parameter(1)
  d = f32[2,3]{1,0} dot(r, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  n = f32[2,3]{1,0} negate(d)
  ROOT t = (f32[2,3]{1,0}, f32[2,3]{1,0}) tuple(d, n)
}
ENTRY main {
  a = f32[8]{0} parameter(0)
  b = f32[8]{0} parameter(1)
  w = f32[4,3]{1,0} parameter(2)
  f = f32[8]{0} fusion(a, b), kind=kLoop, calls=fused_mul_exp
  g = (f32[2,3]{1,0}, f32[2,3]{1,0}) fusion(f, w), kind=kOutput, calls=fused_dot_two_outputs
  g1 = f32[2,3]{1,0} get-tuple-element(g), index=1
  ROOT s = f32[2,3]{1,0} sine(g1)
}"""


def test_inline_fusions_false_keeps_each_fusion_as_one_node():
  inlined = _import(_FUSIONS)
  assert inlined.node_names == ("a", "b", "w", "f/m", "f/e", "g/r", "g/d", "g/n", "s")
  g = _import(_FUSIONS, inline_fusions=False)
  assert g.node_names == ("a", "b", "w", "f", "g", "s")  # the ENTRY's kernels, in text order
  assert g.meta["fusions"].startswith("one node per fusion")
  assert "fusions" not in inlined.meta
  f, k = _node(g, "f"), _node(g, "g")
  # FLOPs are the fused computation's: multiply + exp (8 + 8); dot 2*2*3*4 = 48, negate 6.
  assert g.flops[f] == 16 and g.flops[k] == 54
  assert g.flops.sum() == inlined.flops.sum()
  # External traffic only: operands read, outputs written.
  assert g.bytes_read[f] == 64 and g.bytes_written[f] == 32 and g.output_bytes[f] == 32
  assert g.bytes_read[k] == 32 + 48 and g.output_bytes[k] == 48
  assert g.op_type_name(f) == "transcendental"  # the fused ROOT's type
  assert g.op_type_name(k) == "dot"  # holds a contraction
  assert g.dtype_name(k) == "tuple"
  # Edges: operands in, only the used element of a multi-output fusion out.
  assert _edges(g) == {("a", "f"): 32, ("b", "f"): 32, ("f", "g"): 32, ("w", "g"): 48, ("g", "s"): 24}
  assert g.param_bytes.sum() == inlined.param_bytes.sum() == 32 + 32 + 48

def test_reduce_counts_its_to_apply_region():
  text = """HloModule reduce
add_r {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}
scaled_max {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  m = f32[] maximum(a, b)
  two = f32[] constant(2)
  h = f32[] multiply(m, two)
  ROOT s = f32[] subtract(h, m)
}
ENTRY e {
  x = f32[4,32] parameter(0)
  zero = f32[] constant(0)
  sum = f32[4] reduce(x, zero), dimensions={1}, to_apply=add_r
  ROOT odd = f32[4] reduce(x, zero), dimensions={1}, to_apply=scaled_max
}"""
  g = _import(text)
  assert g.num_nodes == 4  # x, zero, sum, odd: region instructions are not nodes
  assert g.flops[_node(g, "sum")] == 128 - 4  # 31 adds per row, as XLA counts
  assert g.flops[_node(g, "odd")] == (128 - 4) * 3
  assert g.op_type_name(_node(g, "odd")) == "reduce"
  assert g.bytes_read[_node(g, "sum")] == 512 + 4


def test_while_is_one_control_flow_node():
  g = hlo_import.load_hlo(os.path.join(_TESTDATA, "while_loop.hlo"))
  assert g.name == "while_loop"
  assert g.node_names == ("zero", "x", "loop", "r")
  loop = _node(g, "loop")
  assert g.op_type_name(loop) == "control_flow"
  # Body once (scalar add + 8 multiplies) plus condition once (one compare).
  assert g.flops[loop] == 1 + 8 + 1
  assert g.output_bytes[loop] == 4 + 32
  assert _edges(g) == {("zero", "loop"): 4, ("x", "loop"): 32, ("loop", "r"): 32}


def test_conditional_costs_its_most_expensive_branch():
  text = """HloModule cond
cheap {
  p = f32[8] parameter(0)
  ROOT n = f32[8] negate(p)
}
costly {
  p = f32[8] parameter(0)
  a = f32[8] multiply(p, p)
  ROOT b = f32[8] tanh(a)
}
ENTRY e {
  i = s32[] parameter(0)
  x = f32[8] parameter(1)
  ROOT c = f32[8] conditional(i, x, x), branch_computations={cheap, costly}
}"""
  g = _import(text)
  c = _node(g, "c")
  assert g.op_type_name(c) == "control_flow" and g.flops[c] == 16


def test_old_style_sigils_typed_operands_and_attributes():
  g = hlo_import.load_hlo(os.path.join(_TESTDATA, "old_style.hlo"))
  assert g.node_names == ("p0", "p1", "big", "sum", "zero", "r", "neg")
  p1 = _node(g, "p1")
  assert g.dtype_name(p1) == "tuple" and g.param_bytes[p1] == 12 + 4
  assert g.flops[_node(g, "sum")] == 6 and g.flops[_node(g, "r")] == 4
  edges = _edges(g)
  assert edges[("p1", "neg")] == 12  # only the f32[3] element of the tuple parameter
  assert edges[("p0", "sum")] == 24 and edges[("big", "sum")] == 24
  assert g.meta["source"].endswith("old_style.hlo")


def test_async_wrapper_and_all_reduce():
  text = """HloModule async_ops
sum {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}
wrapped {
  p = f32[64] parameter(0)
  ROOT ar = f32[64] all-reduce(p), replica_groups=[1,2]<=[2], to_apply=sum
}
ENTRY e {
  x = f32[64] parameter(0)
  start = ((f32[64]), f32[64], s32[]) async-start(x), calls=wrapped
  done = f32[64] async-done(start)
  ROOT y = f32[64] negate(done)
}"""
  g = _import(text)
  assert g.node_names == ("x", "start/ar", "y")
  assert _edges(g) == {("x", "start/ar"): 256, ("start/ar", "y"): 256}
  assert g.op_type_name(1) == "collective" and g.flops[1] == 64


def test_huge_constant_literal_is_sized_not_parsed():
  rows = ", ".join("{" + ", ".join(["1.5e-05"] * 500) + "}" for _ in range(400))
  text = (f"HloModule big\nENTRY e {{\n  c = f32[400,500]{{1,0}} constant({{{rows}}})\n"
          "  ROOT n = f32[400,500]{1,0} negate(c)\n}\n")
  g = _import(text)
  assert g.output_bytes[_node(g, "c")] == 400 * 500 * 4 and g.flops.sum() == 200_000


def test_unknown_opcode_is_other_with_one_warning():
  text = """HloModule unk
ENTRY e {
  a = f32[8] parameter(0)
  b = f32[8] frobnicate(a), flavor=strange
  ROOT c = f32[8] frobnicate(b)
}"""
  warnings = []
  g = _import(text, warn=warnings.append)
  assert [g.op_type_name(i) for i in range(3)] == ["parameter", "other", "other"]
  assert len(warnings) == 1 and "frobnicate" in warnings[0]


def test_gather_slice_dynamic_update_slice_bytes():
  text = """HloModule move
ENTRY e {
  table = f32[100,16] parameter(0)
  ids = s32[4,1] parameter(1)
  rows = f32[4,16] gather(table, ids), offset_dims={1}, collapsed_slice_dims={0},
      start_index_map={0}, index_vector_dim=1, slice_sizes={1,16}
  s = f32[2,16] slice(rows), slice={[0:2], [0:16]}
  i = s32[] constant(0)
  ROOT u = f32[100,16] dynamic-update-slice(table, s, i, i)
}"""
  g = _import(text)
  assert g.bytes_read[_node(g, "rows")] == 256 + 16  # the gathered rows and the indices
  assert g.bytes_read[_node(g, "s")] == 128
  u = _node(g, "u")
  assert g.bytes_read[u] == 128 + 8 and g.bytes_written[u] == 128 and g.output_bytes[u] == 6400
  assert g.flops.sum() == 0


# -----------------------------------------------------------------------------
# HLO generated from Flax models.
# -----------------------------------------------------------------------------


# Cost analysis and the optimized HLO come from XLA's HLO passes; skipping the
# expensive LLVM work keeps compiles fast without changing them.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _lower(fn, *args):
  return jax.jit(fn).lower(*args)


def _abstract_init(model, *inputs):
  """Parameter shapes without running the initializers (eager init is slow on CPU)."""
  return jax.eval_shape(model.init, jax.random.PRNGKey(0), *inputs)


def _num_elements(tree) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


class _ConvNet(nn.Module):

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(8, (3, 3))(x))
    x = nn.avg_pool(x, (2, 2), (2, 2))
    x = nn.relu(nn.Conv(16, (3, 3))(x))
    x = x.reshape((x.shape[0], -1))
    return nn.Dense(10)(x)


def test_flax_conv_net():
  model = _ConvNet()
  x = jnp.ones((2, 16, 16, 3))
  params = _abstract_init(model, x)
  lowered = _lower(model.apply, params, x)
  g = hlo_import.from_hlo_text(lowered.as_text(dialect="hlo"))
  assert g.op_histogram()["conv"] == 2 and g.op_histogram()["dot"] == 1
  assert g.op_histogram()["parameter"] == 7  # 3 kernels, 3 biases, the input
  # SAME 3x3 convs count the taps that hit real input: 3 * size - 2 per spatial
  # dim; 2 * in_features * out_features * batch * taps. Dense: 2 * 2 * 10 * 1024.
  assert _flops_of_type(g, "conv") == 2 * 3 * 8 * 2 * 46**2 + 2 * 8 * 16 * 2 * 22**2
  assert _flops_of_type(g, "dot") == 2 * 2 * 10 * 1024
  assert _flops_of_type(g, "reduce_window") == 2 * 8 * 8 * 8 * 4  # 2x2 average pooling
  assert g.param_bytes.sum() == 4 * (_num_elements(params) + x.size)
  # The optimized module (fusions, FileNames/StackFrames tables) parses too.
  executable = lowered.compile(_FAST_COMPILE)
  compiled = hlo_import.from_hlo_text(executable.as_text())
  assert compiled.op_histogram()["conv"] == 2
  assert _flops_of_type(compiled, "conv") == _flops_of_type(g, "conv")
  # Inlined fusions reproduce XLA's own count of the optimized module.
  assert compiled.flops.sum() == pytest.approx(executable.cost_analysis()["flops"], rel=0.02)


class _Attention(nn.Module):

  @nn.compact
  def __call__(self, x):
    h = nn.LayerNorm()(x)
    return x + nn.MultiHeadDotProductAttention(num_heads=4)(h, h)


def test_flax_attention_block():
  batch, length, dim = 2, 16, 32
  model = _Attention()
  x = jnp.ones((batch, length, dim))
  params = _abstract_init(model, x)
  g = hlo_import.from_hlo_text(_lower(model.apply, params, x).as_text(dialect="hlo"))
  assert g.op_histogram()["dot"] == 6  # q, k, v, q.k, softmax.v, output projection
  # Four D x D projections and two L x L x D attention products.
  assert _flops_of_type(g, "dot") == 8 * batch * length * dim**2 + 4 * batch * length**2 * dim
  assert g.op_histogram()["transcendental"] >= 2  # exp of the softmax, rsqrt of the norm
  assert g.op_histogram()["reduce"] >= 3


class _UnrolledLSTM(nn.Module):
  steps: int = 4

  @nn.compact
  def __call__(self, xs):
    cell = nn.LSTMCell(features=32)
    carry = cell.initialize_carry(jax.random.PRNGKey(0), xs[:, 0].shape)
    outputs = []
    for t in range(self.steps):
      carry, y = cell(carry, xs[:, t])
      outputs.append(y)
    return jnp.stack(outputs, axis=1)


def test_flax_lstm_python_loop_and_scan():
  batch, steps, features, hidden = 2, 4, 8, 32
  xs = jnp.ones((batch, steps, features))
  unrolled = _UnrolledLSTM(steps)
  params = _abstract_init(unrolled, xs)
  g = hlo_import.from_hlo_text(_lower(unrolled.apply, params, xs).as_text(dialect="hlo"))
  # Per step: 4 gates, each an input and a hidden projection.
  per_step = 4 * (2 * batch * features * hidden + 2 * batch * hidden * hidden)
  assert _flops_of_type(g, "dot") == steps * per_step
  assert "control_flow" not in g.op_histogram()

  scanned = nn.RNN(nn.LSTMCell(features=hidden))
  params = _abstract_init(scanned, xs)
  g = hlo_import.from_hlo_text(_lower(scanned.apply, params, xs).as_text(dialect="hlo"))
  assert g.op_histogram()["control_flow"] == 1
  loop = int(np.flatnonzero(g.op_type == ops.OP_TYPE_ID["control_flow"])[0])
  # The loop node holds one step (body once): its dots and some elementwise work.
  assert per_step < g.flops[loop] < 2 * per_step
  assert g.in_degree[loop] >= 4  # params, carries and inputs flow into the loop


class _Block(nn.Module):

  @nn.compact
  def __call__(self, x):
    h = nn.MultiHeadDotProductAttention(num_heads=4)(nn.LayerNorm()(x))
    x = x + h
    h = nn.Dense(x.shape[-1])(nn.gelu(nn.Dense(4 * x.shape[-1])(nn.LayerNorm()(x))))
    return x + h


class _Transformer(nn.Module):

  @nn.compact
  def __call__(self, tokens):
    x = nn.Embed(100, 64)(tokens)
    for _ in range(4):
      x = _Block()(x)
    return nn.Dense(100)(x)


def test_flax_training_step_matches_xla_cost_analysis():
  model = _Transformer()
  tokens = jnp.zeros((4, 32), jnp.int32)
  params = _abstract_init(model, tokens)
  optimizer = optax.adamw(1e-3)

  def train_step(params, opt_state, tokens):
    def loss_fn(p):
      logits = model.apply(p, tokens)
      return optax.softmax_cross_entropy_with_integer_labels(logits, tokens).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  lowered = _lower(train_step, params, jax.eval_shape(optimizer.init, params), tokens)
  text = lowered.as_text(dialect="hlo")
  g = hlo_import.from_hlo_text(text, name="transformer_train")
  assert g.meta["hlo_instructions"] > 2500
  assert 0.6 * g.meta["hlo_instructions"] < g.num_nodes <= g.meta["hlo_instructions"]
  assert g.num_edges > g.num_nodes
  assert g.op_histogram()["dot"] > 90  # 4 blocks x 6 dots x (forward + 2 backward) + head
  # Parameters: the weights, the two Adam moments, the step count and the tokens.
  num_params = len(jax.tree.leaves(params))
  assert g.op_histogram()["parameter"] == 3 * num_params + 2
  compiled = lowered.compile(_FAST_COMPILE)
  xla_flops = compiled.cost_analysis()["flops"]
  assert abs(g.flops.sum() / xla_flops - 1.0) < 0.2


# -----------------------------------------------------------------------------
# Malformed input: one-line GraphError naming the file and the line.
# -----------------------------------------------------------------------------


def _error(text, **kwargs) -> str:
  with pytest.raises(graph.GraphError) as info:
    _import(text, **kwargs)
  message = str(info.value)
  assert "\n" not in message
  return message


_GOOD_HEAD = "HloModule m\n\nENTRY main {\n  x = f32[2] parameter(0)\n"


def test_error_unparseable_line():
  message = _error(_GOOD_HEAD + "  add.3 = f32[2] add(x x)\n  ROOT n = f32[2] negate(add.3)\n}\n")
  assert message.startswith("model.hlo:5: ") and "operand list of 'add.3'" in message
  message = _error(_GOOD_HEAD + "  this is not hlo\n}\n")
  assert message.startswith("model.hlo:5: ") and "expected '='" in message
  message = _error(_GOOD_HEAD + "  y = f32[2,x] negate(x)\n}\n")
  assert message.startswith("model.hlo:5: ") and "bad dimension 'x'" in message
  message = _error(_GOOD_HEAD + "  ROOT d = f32[2] dot()\n}\n")
  assert message.startswith("model.hlo:5: dot 'd' has unexpected operands")


def test_error_unknown_operand():
  message = _error(_GOOD_HEAD + "  one = f32[2] constant({1, 1})\n"
                   "  ROOT add.3 = f32[2] add(x, %foo)\n}\n")
  assert message.startswith("model.hlo:6: operand %foo of 'add.3' is not defined")


def test_error_unknown_computation():
  message = _error(_GOOD_HEAD + "  ROOT c = f32[2] call(x), to_apply=nowhere\n}\n")
  assert message.startswith("model.hlo:5: ") and "undefined computation 'nowhere'" in message


def test_error_missing_entry():
  message = _error("HloModule m\n\nmain {\n  ROOT x = f32[2] parameter(0)\n}\n")
  assert message.startswith("model.hlo:3: no ENTRY computation")


def test_error_truncated_file():
  text = open(os.path.join(_TESTDATA, "while_loop.hlo")).read()
  message = _error(text[: text.index("ROOT r")])
  assert message.startswith("model.hlo:26: unexpected end of file inside computation 'main'")
  assert "opened at line 20" in message
  message = _error(text[: text.index("while(init)") + 8])
  assert message.startswith("model.hlo:24: ") and "end of file" in message
  message = _error(_GOOD_HEAD + "  c = f32[2] constant({1, ")
  assert message.startswith("model.hlo:5: unexpected end of file") and "line 5" in message


def test_error_empty_module():
  assert _error("HloModule empty_one\n\n") == "model.hlo:3: empty module 'empty_one': no computations"
  assert _error("  \n").startswith("model.hlo:2: empty HLO text")
  assert "has no instructions" in _error("HloModule m\nENTRY main {\n}\n")


def test_error_cycle_is_reported_by_graph_validation_with_file_and_line():
  message = _error(_GOOD_HEAD + "  a = f32[2] add(x, b)\n  ROOT b = f32[2] negate(a)\n}\n")
  assert message.startswith("model.hlo:") and "cycle" in message and "'a'" in message


def test_load_hlo_error_names_the_path(tmp_path):
  path = tmp_path / "broken.hlo"
  path.write_text(_GOOD_HEAD + "  ROOT y = f32[2] negate(z)\n}\n")
  with pytest.raises(graph.GraphError, match=r"broken\.hlo:5: operand %z of 'y' is not defined"):
    hlo_import.load_hlo(path)


# -----------------------------------------------------------------------------
# Large inputs (their speed is measured by experiments/bench_import.py, not here).
# -----------------------------------------------------------------------------


@pytest.mark.slow
def test_parses_50k_instructions():
  g = hlo_import.from_hlo_text(benchmark.synthetic_hlo_module(10_000))
  assert g.num_nodes == 50_001 and g.num_edges == 50_000
  assert g.flops.sum() == 10_000 * (2 * 64 * 256 * 256 + 64 * 256)
