"""Tests of the JAX importer (go_jax.graph.jax_import).

Expected values are worked out by hand in comments; costs follow XLA's
HloCostAnalysis conventions and are cross-checked against
``jax.jit(f).lower(...).compile().cost_analysis()``.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax
from jax.extend import core as jax_core

from go_jax.graph import benchmark
from go_jax.graph import cost_rules
from go_jax.graph import graph as graph_lib
from go_jax.graph import jax_import


def _xla_flops(fn, *args) -> float:
  cost = jax.jit(fn).lower(*args).compile().cost_analysis()
  if isinstance(cost, (list, tuple)):  # older JAX returned one dict per device
    cost = cost[0]
  return float(cost.get("flops", 0.0))


def _nodes(graph, op_type):
  return [i for i in range(graph.num_nodes) if graph.op_type_name(i) == op_type]


def _edges(graph):
  return {(int(s), int(r)): float(b) for s, r, b in zip(graph.senders, graph.receivers, graph.edge_bytes)}


# ---------------------------------------------------------------------------
# Tiny hand-checked functions.
# ---------------------------------------------------------------------------


def test_tanh_of_matmul_exact():
  def layer(x, w):
    return jnp.tanh(x @ w)

  graph = jax_import.from_jax(layer, jnp.ones((2, 3)), jnp.ones((3, 4)))
  # x, w, dot_general, tanh.
  assert graph.node_names == ("x", "w", "dot_general", "tanh")
  assert [graph.op_type_name(i) for i in range(4)] == ["parameter", "parameter", "dot", "transcendental"]
  assert [graph.shape(i) for i in range(4)] == [(2, 3), (3, 4), (2, 4), (2, 4)]
  # dot: 2 * (2*4 outputs) * 3 contracted = 48; tanh: 8 elements = 8.
  np.testing.assert_array_equal(graph.flops, [0, 0, 48, 8])
  # dot reads x (6*4 = 24 bytes) + w (12*4 = 48), writes 8*4 = 32; tanh reads/writes 32.
  np.testing.assert_array_equal(graph.bytes_read, [0, 0, 72, 32])
  np.testing.assert_array_equal(graph.bytes_written, [0, 0, 32, 32])
  np.testing.assert_array_equal(graph.output_bytes, [24, 48, 32, 32])
  # All arguments are parameters by default.
  np.testing.assert_array_equal(graph.param_bytes, [24, 48, 0, 0])
  assert _edges(graph) == {(0, 2): 24.0, (1, 2): 48.0, (2, 3): 32.0}
  assert graph.meta["source"] == "jax"
  assert not graph.node_attrs["is_backward"].any()


def test_var_used_twice_gives_one_edge_and_unused_outputs_are_nodes():
  def fn(x):
    _ = jnp.exp(x)  # unused, still a node
    return x * x + 1.0  # mul reads x twice -> one edge; the literal 1.0 is no node

  graph = jax_import.from_jax(fn, jnp.ones((5,)))
  assert graph.node_names == ("x", "exp", "mul", "add")
  assert _edges(graph) == {(0, 1): 20.0, (0, 2): 20.0, (2, 3): 20.0}
  # mul reads x twice (2 * 20 bytes); add reads its operand and a 4-byte literal.
  assert graph.bytes_read[2] == 40.0 and graph.bytes_read[3] == 24.0


def test_param_argnums_and_pytree_names():
  params = {"Dense_0": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones((2,))}}
  batch = {"x": jnp.ones((4, 3))}

  def step(params, batch):
    layer = params["Dense_0"]
    return jnp.sum(batch["x"] @ layer["kernel"] + layer["bias"])

  graph = jax_import.from_jax(step, params, batch, param_argnums=0)
  names = graph.node_names
  # Leaves are flattened with sorted dict keys: bias before kernel.
  assert names[:3] == ("params/Dense_0/bias", "params/Dense_0/kernel", "batch/x")
  np.testing.assert_array_equal(graph.param_bytes[:3], [8, 24, 0])
  assert jax_import.layer_path("params/Dense_0/kernel") == ("params", "Dense_0")


def test_closed_over_array_is_a_constant():
  table = jnp.arange(6.0).reshape(2, 3)
  graph = jax_import.from_jax(lambda x: x + table, jnp.ones((2, 3)))
  consts = _nodes(graph, "constant")
  assert len(consts) == 1 and graph.param_bytes[consts[0]] == 0.0
  assert (consts[0], _nodes(graph, "elementwise")[0]) in _edges(graph)


# ---------------------------------------------------------------------------
# Convolutions.
# ---------------------------------------------------------------------------


def test_grouped_and_depthwise_conv_by_hand():
  # Depthwise 3x3, SAME, on a 5x5x4 image (NHWC), kernel (3, 3, 1, 4), 4 groups.
  # Per spatial dim, kernel taps hitting real input: k=0 -> outputs 1..4 (4),
  # k=1 -> 5, k=2 -> 0..3 (4): 13 pairs; 13 * 13 = 169 per (channel).
  # FMAs = (4 in / 4 groups) * 4 out * 1 batch * 169 = 676 -> 1352 FLOPs.
  def depthwise(x, k):
    return lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=4)

  graph = jax_import.from_jax(depthwise, jnp.ones((1, 5, 5, 4)), jnp.ones((3, 3, 1, 4)))
  (conv,) = _nodes(graph, "conv")
  assert graph.flops[conv] == 1352.0
  # Grouped 3x3 VALID: 8 input channels in 2 groups, 6 outputs; kernel (3, 3, 4, 6).
  # Output 3x3; every output sees 3*3 taps * 4 channels = 36 FMAs:
  # 2 * (1 * 3 * 3 * 6 outputs) * 36 = 3888 FLOPs.
  def grouped(x, k):
    return lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=2)

  graph = jax_import.from_jax(grouped, jnp.ones((1, 5, 5, 8)), jnp.ones((3, 3, 4, 6)))
  (conv,) = _nodes(graph, "conv")
  assert graph.flops[conv] == 3888.0
  # The simple upper-bound formula agrees when there is no padding.
  assert cost_rules.conv_flops((1, 3, 3, 6), (3, 3, 4, 6), 3) == 3888.0


@pytest.mark.parametrize("kwargs", [
    dict(window_strides=(2, 2), padding="SAME"),
    dict(window_strides=(1, 1), padding=((2, 1), (0, 3)), rhs_dilation=(2, 1)),
    dict(window_strides=(1, 1), padding=((1, 2), (1, 2)), lhs_dilation=(2, 2)),  # transposed conv
    dict(window_strides=(1, 1), padding="SAME", feature_group_count=2),
    dict(window_strides=(1, 1), padding="SAME", feature_group_count=8),  # depthwise
], ids=["strided", "dilated", "transposed", "grouped", "depthwise"])
def test_conv_flops_match_xla(kwargs):
  groups = kwargs.get("feature_group_count", 1)
  x, k = jnp.ones((2, 9, 7, 8)), jnp.ones((3, 3, 8 // groups, 8))
  fn = functools.partial(lax.conv_general_dilated, dimension_numbers=("NHWC", "HWIO", "NHWC"), **kwargs)
  graph = jax_import.from_jax(fn, x, k)
  (conv,) = _nodes(graph, "conv")
  assert graph.flops[conv] == _xla_flops(fn, x, k)


def test_batch_grouped_filter_gradient_counts_inherent_flops():
  # The filter gradient of a depthwise conv is a conv with batch_group_count = C.
  # Its inherent cost equals the forward conv's; XLA:CPU rewrites it into a
  # dense conv C times larger (documented difference), so no XLA check here.
  def loss(k, x):
    y = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                 feature_group_count=4)
    return jnp.sum(y)

  graph = jax_import.from_jax(jax.grad(loss), jnp.ones((3, 3, 1, 4)), jnp.ones((1, 5, 5, 4)))
  convs = _nodes(graph, "conv")
  assert len(convs) == 2  # forward + filter gradient
  np.testing.assert_array_equal(graph.flops[convs], [1352.0, 1352.0])


# ---------------------------------------------------------------------------
# Other per-primitive rules against XLA.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name,fn,rel", [
    ("integer_pow", lambda x: x**3, 0.0),  # 2 multiplies per element
    ("where", lambda x: jnp.where(x > 0, x, 1.0), 0.0),  # compare + select
    ("reduce_sum", lambda x: jnp.sum(x, axis=1), 0.0),  # (in - out) adds
    ("argmax", lambda x: jnp.argmax(x, axis=1), 0.0),
    ("sort", lambda x: jnp.sort(x, axis=1), 0.0),
    ("convert", lambda x: x.astype(jnp.bfloat16), 0.0),
    # XLA constant-folds part of the key setup: 43k vs 45k.
    ("random_bits", lambda x: jax.random.bits(jax.random.key(0), (1000,)), 0.1),
])
def test_primitive_flops_match_xla(name, fn, rel):
  # (XLA:CPU splits some reductions differently for other shapes; (8, 1000) is exact.)
  x = jnp.linspace(-1.0, 1.0, 8 * 1000).reshape(8, 1000)
  graph = jax_import.from_jax(fn, x, name=name)
  assert graph.flops.sum() == pytest.approx(_xla_flops(fn, x), rel=rel, abs=2.0)  # XLA folds scalar converts


def test_primitive_table_maps_into_vocabulary():
  for prim, op_type in jax_import.PRIMITIVE_OP_TYPES.items():
    assert op_type in graph_lib.ops.OP_TYPE_ID, prim
  expected = {"dot_general": "dot", "conv_general_dilated": "conv", "reduce_window_max": "reduce_window",
              "select_and_scatter_add": "select_and_scatter", "cumsum": "cumulative", "gather": "gather",
              "scatter-add": "scatter", "threefry2x32": "rng", "random_bits": "rng", "iota": "iota",
              "erf": "transcendental", "logistic": "transcendental", "rsqrt": "transcendental",
              "stop_gradient": "copy", "rev": "reverse", "reduce_precision": "convert"}
  for prim, op_type in expected.items():
    assert jax_import.PRIMITIVE_OP_TYPES[prim] == op_type


def test_pooling_and_data_movement_op_types():
  def fn(x, idx):
    pooled = nn.max_pool(x, (2, 2), strides=(2, 2))
    y = jnp.take(pooled.reshape(-1), idx)
    z = jnp.cumsum(jnp.flip(y)) + lax.dynamic_slice(y, (1,), (3,)).sum()
    return jnp.pad(z, 1)[1:4], jnp.zeros(4).at[idx].add(1.0)

  graph = jax_import.from_jax(jax.jit(fn), jnp.ones((1, 4, 4, 2)), jnp.array([0, 2, 3, 5]))
  types = set(graph.op_histogram())
  assert {"reduce_window", "reshape", "gather", "reverse", "cumulative", "dynamic_slice", "pad", "slice",
          "scatter", "broadcast"} <= types
  (pool,) = _nodes(graph, "reduce_window")
  assert graph.flops[pool] == 2 * 2 * 2 * 4  # 8 outputs * 4-element window
  assert "other" not in types


def test_unknown_primitive_maps_to_other_with_one_warning():
  mystery = jax_core.Primitive("mystery_op")
  mystery.def_abstract_eval(lambda x: x)

  def fn(x):
    return mystery.bind(mystery.bind(x))

  messages = []
  graph = jax_import.from_jax(fn, jnp.ones((3, 4)), warn=messages.append)
  others = _nodes(graph, "other")
  assert len(others) == 2 and len(messages) == 1 and "mystery_op" in messages[0]
  np.testing.assert_array_equal(graph.flops[others], [12.0, 12.0])  # elementwise-like


# ---------------------------------------------------------------------------
# Inlining and control flow.
# ---------------------------------------------------------------------------


@jax.custom_jvp
def _soft_clip(x):
  return jnp.tanh(x) * 3.0


_soft_clip.defjvp(lambda primals, tangents: (_soft_clip(primals[0]), tangents[0]))


@jax.custom_vjp
def _scaled_sin(x):
  return jnp.sin(x) * 2.0


_scaled_sin.defvjp(lambda x: (_scaled_sin(x), x), lambda x, g: (2.0 * g * jnp.cos(x),))


def test_call_like_primitives_are_inlined():
  @jax.jit
  def inner(a):
    return jnp.exp(a) + 1.0

  def fn(x):
    y = jax.nn.relu(inner(x))  # jit + custom_jvp (relu is a jitted custom_jvp)
    y = jax.nn.gelu(y, approximate=False)  # erfc
    y = _soft_clip(y) + _scaled_sin(y)
    return jax.checkpoint(lambda a: jnp.log1p(a * a))(y)

  closed = jax.make_jaxpr(fn)(jnp.ones(4))
  outer_prims = {e.primitive.name for e in closed.jaxpr.eqns}
  assert {"jit", "custom_jvp_call", "custom_vjp_call", "remat2"} <= outer_prims  # really nested
  for f in (fn, jax.grad(lambda x: jnp.sum(fn(x)))):
    graph = jax_import.from_jax(f, jnp.ones(4))
    types = graph.op_histogram()
    assert "other" not in types and "control_flow" not in types
    names = {n.rsplit("/", 1)[-1] for n in graph.node_names}
    assert {"exp", "max", "erfc", "tanh", "sin", "log1p"} <= names
    assert not {"jit", "custom_jvp_call", "custom_vjp_call", "remat2"} & names


def _rnn(h, xs, w):
  def cell(h, x):
    h = jnp.tanh(h @ w + x)  # dot_general, add, tanh
    return h, h.sum()  # + reduce_sum
  return lax.scan(cell, h, xs)


def test_scan_unrolled_vs_control_flow_node():
  h, xs, w = jnp.ones((2, 4)), jnp.ones((5, 2, 4)), jnp.ones((4, 4))
  unrolled = jax_import.from_jax(_rnn, h, xs, w)
  rolled = jax_import.from_jax(_rnn, h, xs, w, unroll_scan_limit=4 * 5 - 1)
  # Unrolled: 3 parameters + 5 iterations * 4 ops + 1 scan_stack (the ys).
  assert unrolled.num_nodes == 3 + 5 * 4 + 1
  assert len(_nodes(unrolled, "dot")) == 5 and "control_flow" not in unrolled.op_histogram()
  # The carry is chained: iteration t's tanh feeds iteration t+1's dot.
  dots, tanhs = _nodes(unrolled, "dot"), _nodes(unrolled, "transcendental")
  for t in range(4):
    assert (tanhs[t], dots[t + 1]) in _edges(unrolled)
  # Each iteration reads its (2, 4) f32 slice of xs: 32 bytes, not the whole 160.
  adds = _nodes(unrolled, "elementwise")
  assert all(_edges(unrolled)[(1, a)] == 32.0 for a in adds)
  (stack,) = [i for i, n in enumerate(unrolled.node_names) if n.endswith("scan_stack")]
  assert unrolled.shape(stack) == (5,) and unrolled.in_degree[stack] == 5
  # Rolled: one control_flow node costing 5 bodies.
  assert rolled.num_nodes == 4 and rolled.op_histogram()["control_flow"] == 1
  # One body: dot 2*8*4 = 64, add 8, tanh 8, reduce_sum 7 -> 87 FLOPs; x5 = 435.
  assert rolled.flops.sum() == unrolled.flops.sum() == 435.0


def test_while_and_cond_are_single_control_flow_nodes():
  def fn(x):
    y = lax.cond(x.sum() > 0, lambda a: a @ a, lambda a: a + 1.0, x)
    return lax.while_loop(lambda s: s[0] < 10, lambda s: (s[0] + 1, s[1] * 2.0), (0, y))[1]

  graph = jax_import.from_jax(fn, jnp.ones((3, 3)))
  flows = _nodes(graph, "control_flow")
  assert [graph.node_names[i] for i in flows] == ["cond", "while"]
  # cond: the costlier branch, the matmul: 2 * 9 * 3 = 54 FLOPs.
  # while: one iteration: body add (1) + mul (9) + cond lt (1) = 11 FLOPs.
  np.testing.assert_array_equal(graph.flops[flows], [54.0, 11.0])


# ---------------------------------------------------------------------------
# Flax name stacks.
# ---------------------------------------------------------------------------


class _Encoder(nn.Module):

  @nn.compact
  def __call__(self, x):
    x = nn.Dense(4, name="dense_1")(x)
    x = nn.LayerNorm()(x)
    return nn.remat(nn.Dense)(3, name="ckpt")(x)


class _Model(nn.Module):

  @nn.compact
  def __call__(self, x):
    return nn.Dense(2)(_Encoder(name="encoder")(x))


def test_flax_name_stacks_in_node_names():
  model = _Model()
  x = jax.ShapeDtypeStruct((2, 5), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)

  def loss(variables, x):
    return jnp.mean(model.apply(variables, x) ** 2)

  graph = jax_import.from_jax(jax.grad(loss), variables, x)
  names = graph.node_names
  backward = graph.node_attrs["is_backward"]
  fwd_dot = names.index("_Model/encoder/dense_1/dot_general")
  assert not backward[fwd_dot]
  assert jax_import.layer_path(names[fwd_dot]) == ("_Model", "encoder", "dense_1")
  # Backward ops of the same layer share its path and are flagged.
  bwd = [i for i, n in enumerate(names) if n == "_Model/encoder/dense_1/dot_general" and backward[i]]
  assert len(bwd) == 1  # dW (no dx needed for the input layer)
  # The rematerialized layer's path is not doubled by partial evaluation.
  ckpt = [n for i, n in enumerate(names) if "/ckpt/" in n and graph.op_type_name(i) != "parameter"]
  assert ckpt and all(n.startswith("_Model/encoder/ckpt/") for n in ckpt)
  assert any(n.startswith("_Model/encoder/LayerNorm_0/") for n in names)
  assert names[0] == "variables/params/Dense_0/bias"


# ---------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
  with pytest.raises(graph_lib.GraphError, match="must be callable"):
    jax_import.from_jax("not a function", jnp.ones(3))
  with pytest.raises(graph_lib.GraphError, match="tracing fn.*failed.*TypeError"):
    jax_import.from_jax(lambda x, w: x @ w, jnp.ones((2, 3)), jnp.ones((4, 5)))
  with pytest.raises(graph_lib.GraphError, match="tracing"):
    jax_import.from_jax(lambda x: x, "a string")
  with pytest.raises(graph_lib.GraphError, match="param_argnums"):
    jax_import.from_jax(lambda x: x, jnp.ones(3), param_argnums=(1,))
  assert issubclass(graph_lib.GraphError, ValueError)


# ---------------------------------------------------------------------------
# Whole training steps against XLA.
# ---------------------------------------------------------------------------


class _Block(nn.Module):
  features: int
  strides: int = 1

  @nn.compact
  def __call__(self, x):
    y = nn.Conv(self.features, (3, 3), strides=self.strides, use_bias=False)(x)
    y = nn.relu(nn.BatchNorm(use_running_average=False)(y))
    y = nn.Conv(self.features, (3, 3), use_bias=False)(y)
    y = nn.BatchNorm(use_running_average=False)(y)
    if x.shape[-1] != self.features or self.strides != 1:
      x = nn.Conv(self.features, (1, 1), strides=self.strides, use_bias=False, name="proj")(x)
    return nn.relu(x + y)


class _ResNet(nn.Module):

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(16, (3, 3), use_bias=False, name="stem")(x)
    x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = _Block(16)(x)
    x = _Block(32, strides=2)(x)
    x = _Block(32)(x)
    return nn.Dense(10)(jnp.mean(x, axis=(1, 2)))


# Training steps are traced on abstract arguments (jax.ShapeDtypeStruct leaves
# from jax.eval_shape): no eager initialisation, and XLA lowers them as well.


@functools.cache
def _resnet_step():
  model = _ResNet()
  batch = {"image": jax.ShapeDtypeStruct((8, 16, 16, 3), jnp.float32),
           "label": jax.ShapeDtypeStruct((8,), jnp.int32)}
  variables = jax.eval_shape(model.init, jax.random.key(0), batch["image"])
  tx = optax.sgd(0.1, momentum=0.9)

  def train_step(params, batch_stats, opt_state, batch):
    def loss_fn(p):
      logits, updates = model.apply({"params": p, "batch_stats": batch_stats}, batch["image"],
                                    mutable=["batch_stats"])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
      return loss, updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    step, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, step), updates["batch_stats"], opt_state, loss

  args = (variables["params"], variables["batch_stats"], jax.eval_shape(tx.init, variables["params"]), batch)
  return train_step, args


class _EncoderLayer(nn.Module):
  heads: int
  ffn: int

  @nn.compact
  def __call__(self, x):
    h = nn.MultiHeadDotProductAttention(num_heads=self.heads, deterministic=True)(nn.LayerNorm()(x))
    x = x + h
    h = nn.Dense(x.shape[-1])(nn.gelu(nn.Dense(self.ffn)(nn.LayerNorm()(x))))
    return x + h


class _Bert(nn.Module):
  vocab: int = 128
  dim: int = 64

  @nn.compact
  def __call__(self, tokens):
    x = nn.Embed(self.vocab, self.dim)(tokens)
    x = x + self.param("pos", nn.initializers.normal(0.02), (tokens.shape[1], self.dim))
    for i in range(2):
      x = _EncoderLayer(heads=4, ffn=4 * self.dim, name=f"layer_{i}")(x)
    return nn.Dense(self.vocab)(nn.LayerNorm()(x))


@functools.cache
def _bert_step():
  model = _Bert()
  tokens = jax.ShapeDtypeStruct((4, 32), jnp.int32)
  params = jax.eval_shape(model.init, jax.random.key(0), tokens)["params"]
  tx = optax.adamw(1e-3)

  def train_step(params, opt_state, batch):
    def loss_fn(p):
      logits = model.apply({"params": p}, batch["tokens"])
      return optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    step, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, step), opt_state, loss

  return train_step, (params, jax.eval_shape(tx.init, params), {"tokens": tokens, "labels": tokens})


@pytest.mark.parametrize("make_step", [_resnet_step, _bert_step], ids=["resnet", "bert"])
def test_training_step_flops_within_20_percent_of_xla(make_step):
  train_step, args = make_step()
  graph = jax_import.from_jax(train_step, *args)
  xla = _xla_flops(train_step, *args)
  ours = graph.flops.sum()
  # Measured (jax 0.10.2, XLA:CPU): resnet 0.985, bert 1.001.
  assert 0.8 * xla <= ours <= 1.2 * xla, (ours, xla, ours / xla)
  types = graph.op_histogram()
  assert "other" not in types and "control_flow" not in types
  assert graph.node_attrs["is_backward"].any() and not graph.node_attrs["is_backward"].all()


def test_train_step_param_argnums_covers_params_and_optimizer_state():
  train_step, args = _bert_step()
  graph = jax_import.from_jax(train_step, *args, param_argnums=(0, 1))
  leaves = jax.tree_util.tree_leaves(args[:2])
  assert graph.param_bytes.sum() == sum(leaf.size * leaf.dtype.itemsize for leaf in leaves)
  names = graph.node_names
  assert "params/layer_0/MultiHeadDotProductAttention_0/query/kernel" in names
  assert "opt_state/0/mu/layer_0/MultiHeadDotProductAttention_0/query/kernel" in names
  # Op nodes carry the Flax module path (forward and backward alike).
  prefix = "_Bert/layer_1/MultiHeadDotProductAttention_0/query/"
  query = [i for i, n in enumerate(names) if n.startswith(prefix) and graph.op_type_name(i) == "dot"]
  assert len(query) == 3  # forward, dx, dW
  assert graph.node_attrs["is_backward"][query].tolist() == [False, True, True]


# ---------------------------------------------------------------------------
# Large inputs (their speed is measured by experiments/bench_import.py, not here).
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_imports_80k_equations():
  closed = benchmark.synthetic_jaxpr(80_000)  # 20,000 x tanh(x @ w + 1.0) * 0.5
  assert len(closed.jaxpr.eqns) == 80_000
  graph = jax_import.from_jaxpr(closed, name="big")
  assert graph.num_nodes == 80_002


def test_stack_and_unstack_map_to_data_movement():
  messages = []
  g = jax_import.from_jax(lambda x: jnp.stack(jnp.unstack(x)[::-1]), jnp.ones((2, 3)), warn=messages.append)
  assert not messages
  assert sorted(g.op_histogram()) == ["concatenate", "parameter", "slice"]
