"""Imports a JAX function as a :class:`~go_jax.graph.graph.ComputationGraph`.

:func:`from_jax` traces ``fn`` with :func:`jax.make_jaxpr` and turns the jaxpr
into an op-level graph:

* every equation becomes one node (also when its outputs are unused);
* every input variable becomes a ``parameter`` node named by its pytree key
  path, prefixed with the argument's name in ``fn``'s signature (e.g.
  ``params/Dense_0/kernel``); constvars become ``constant`` nodes; literals are
  not nodes;
* an edge producer -> consumer carries the bytes of the tensor as the consumer
  sees it (a var used twice by one equation gives one edge).

**Inlining.** Call-like primitives (``jit``/``pjit``, ``closed_call``,
``core_call``, ``remat2``/``checkpoint``, ``custom_jvp_call``,
``custom_vjp_call`` and their older ``*_jaxpr`` spellings, ``shard_map``,
``custom_vmap_call``) are inlined recursively: their inner equations become
nodes wired to the outer producers; the call itself is no node. ``shard_map``
bodies are inlined with their per-shard shapes. ``scan`` is unrolled when
``length * (nodes of one body)`` is at most ``unroll_scan_limit`` (carries are
wired iteration to iteration, every iteration reads its slice of ``xs`` from
the outer producer, and the stacked ``ys`` are one ``concatenate`` node named
``.../scan_stack``); otherwise it is one ``control_flow`` node costing ``length``
body iterations. ``while`` is one ``control_flow`` node costing ONE body
iteration plus one cond evaluation: its trip count is unknown at trace time
(loops with static trip counts, e.g. ``fori_loop`` with Python bounds, are
``scan`` s and are handled above). ``cond`` is one ``control_flow`` node
costing its most expensive branch.

**Names.** A node is named ``<scope path>/<primitive>``, e.g.
``M/encoder/dense_1/dot_general``. The scope path is the equation's
``source_info.name_stack`` with its *scopes* kept and its *transforms*
(``jvp(...)``, ``transpose(...)``, ``vmap(...)``) stripped, so forward and
backward ops of one Flax module share its module path; whether a node belongs
to the backward pass (any ``transpose`` transform on its stack) is kept in the
boolean node attribute ``is_backward``. Inner equations of inlined calls have
name stacks relative to the call site; the call's path is prepended. The names
of ``jit``-ed functions (``relu``, ``_uniform``, ...) are not added: they are
not layers. Partial evaluation of ``remat`` under ``grad`` repeats the whole
outer stack once more (``M/encoder/M/encoder/...``); a repeated leading block is
collapsed. :func:`layer_path` recovers the module path of a node name.

**Costs** follow XLA's ``HloCostAnalysis`` (see :mod:`go_jax.graph.cost_rules`):
dot and convolution count 2 FLOPs per multiply-add (convolutions count only
kernel taps that hit real input elements, as XLA does), elementwise ops 1 FLOP
per output element, ``integer_pow`` its square-and-multiply count, reductions
``(in - out) * reducer`` FLOPs, sorts ``n ceil(log2 n)``, random bits 45 FLOPs
per word (threefry); data movement costs 0 FLOPs. Bytes read are the operands'
sizes (a slice/gather reads only what it keeps, an in-place
dynamic-update-slice/scatter only its updates); bytes written are the outputs'.
``reshape``/``squeeze``/``expand_dims`` and identities (``stop_gradient``,
``optimization_barrier``, sharding hints, ``random_wrap``) are views: 0 FLOPs
and 0 bytes, but their edges still carry the tensor's bytes. Unknown primitives
map to ``other`` (one warning per name) and are costed like elementwise ops.

**Known differences to** ``jax.jit(fn).lower(*args).compile().cost_analysis()``:

* Transcendentals (exp, log, tanh, rsqrt, erf, ...) count 1 FLOP per element
  here; XLA reports them under ``"transcendentals"`` and 0 in ``"flops"``
  (except ``logistic``, which XLA:CPU expands to 3 FLOPs + 1 transcendental).
  Training steps of real models have a few percent of these.
* XLA counts the optimized module: CSE merges repeated ops (e.g. the
  ``exp`` computed in both the jvp and primal of a custom_jvp), the algebraic
  simplifier sinks elementwise ops through broadcasts and removes identities,
  and dead code is gone; the jaxpr is counted as written. Conversely, XLA:CPU
  splits some reductions into costlier trees. Measured on the test training
  steps (jax 0.10.2): ResNet-style 0.985x, BERT-style 1.001x XLA's ``flops``.
* Filter gradients of grouped/depthwise convolutions are convolutions with
  ``batch_group_count = groups``. Here they cost what the forward conv costs
  (XLA's own formula); XLA:CPU first rewrites them into a dense convolution
  ``groups`` times larger plus masking, and counts that (32x for a 32-channel
  depthwise layer). A MobileNet-style training step therefore reads well
  below XLA:CPU's number; the inherent count is what a placement model wants.
* XLA:CPU lowers ``cumsum`` & friends via an associative scan (~17 FLOPs per
  element for 1000-long axes); here they are 1 FLOP per element.
* XLA counts a while loop's body once (it cannot know the trip count either,
  and a scan becomes a while loop in HLO); a scan costs ``length`` bodies here
  whether unrolled or not.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
from jax.extend import core as jax_core

from go_jax.graph import cost_rules
from go_jax.graph import graph as graph_lib
from go_jax.graph import ops

#: Default cap on ``scan length * nodes per body`` for unrolling a scan.
DEFAULT_UNROLL_SCAN_LIMIT = 10_000

#: Call-like primitives that are inlined, with the param holding the callee.
CALL_PRIMITIVES: Mapping[str, str] = {
    "jit": "jaxpr",
    "pjit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "call": "call_jaxpr",
    "remat2": "jaxpr",
    "remat": "jaxpr",
    "checkpoint": "jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_jvp_call_jaxpr": "fun_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "custom_vjp_call_jaxpr": "fun_jaxpr",
    "custom_vmap_call": "call_jaxpr",
    "shard_map": "jaxpr",
}

#: The (value, index) reducer JAX builds for argmax/argmin costs 9 FLOPs per
#: application on XLA:CPU (compare, NaN checks, two selects, ...; measured).
_ARG_REDUCER_FLOPS = 9.0

_Info = tuple  # (shape: tuple[int, ...], dtype: str, bytes: float)
_Cost = tuple  # (flops, bytes_read, bytes_written)


# ---------------------------------------------------------------------------
# Abstract values.
# ---------------------------------------------------------------------------

_AVAL_CACHE: dict[Any, _Info] = {}


def _aval_info(aval) -> _Info:
  """(shape, dtype name, bytes) of an abstract value; tokens/refs have 0 bytes."""
  try:
    return _AVAL_CACHE[aval]
  except (KeyError, TypeError):
    pass
  shape_attr = getattr(aval, "shape", None)
  dtype = getattr(aval, "dtype", None)
  if shape_attr is None or dtype is None:
    info = ((), "token", 0.0)
  else:
    shape = []
    for d in shape_attr:
      try:
        shape.append(int(d))
      except (TypeError, jax_core.InconclusiveDimensionOperation):
        shape.append(1)  # symbolic dimension: unknown size, count as 1
    shape = tuple(shape)
    name = ops.dtype_name(dtype)
    itemsize = getattr(dtype, "itemsize", None) or ops.DTYPE_BYTES[name]
    info = (shape, name, float(cost_rules.num_elements(shape) * itemsize))
  try:
    if len(_AVAL_CACHE) > 100_000:
      _AVAL_CACHE.clear()
    _AVAL_CACHE[aval] = info
  except TypeError:
    pass
  return info


def _elements(info: _Info) -> int:
  return cost_rules.num_elements(info[0])


def _sum_bytes(infos: Sequence[_Info]) -> float:
  return float(sum(i[2] for i in infos))


# ---------------------------------------------------------------------------
# Per-primitive cost rules: fn(eqn, ins, outs) -> (flops, bytes_read, bytes_written).
# ---------------------------------------------------------------------------


def _elementwise_cost(eqn, ins, outs) -> _Cost:
  del eqn
  flops = sum(cost_rules.elementwise_flops(o[0]) for o in outs)
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _movement_cost(eqn, ins, outs) -> _Cost:
  del eqn
  return 0.0, _sum_bytes(ins), _sum_bytes(outs)


def _view_cost(eqn, ins, outs) -> _Cost:
  del eqn, ins, outs
  return 0.0, 0.0, 0.0


def _source_cost(eqn, ins, outs) -> _Cost:
  del eqn, ins
  return 0.0, 0.0, _sum_bytes(outs)


def _slice_cost(eqn, ins, outs) -> _Cost:
  # Reads only the elements it keeps (plus the start indices, if dynamic).
  del eqn
  return 0.0, _sum_bytes(outs) + _sum_bytes(ins[1:]), _sum_bytes(outs)


def _update_slice_cost(eqn, ins, outs) -> _Cost:
  # In place: reads the update (and indices), writes the updated window.
  del eqn, outs
  return 0.0, _sum_bytes(ins[1:]), ins[1][2]


def _gather_cost(eqn, ins, outs) -> _Cost:
  del eqn
  return 0.0, _sum_bytes(outs) + _sum_bytes(ins[1:2]), _sum_bytes(outs)


def _scatter_cost(eqn, ins, outs) -> _Cost:
  # operand, indices, updates; plain scatter overwrites, the others combine.
  del outs
  updates = ins[2] if len(ins) > 2 else ins[-1]
  combining = eqn.primitive.name != "scatter"
  flops = float(_elements(updates)) if combining else 0.0
  read = updates[2] + ins[1][2] + (updates[2] if combining else 0.0)
  return flops, read, updates[2]


def _dot_cost(eqn, ins, outs) -> _Cost:
  (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
  flops = cost_rules.dot_flops(outs[0][0], ins[0][0], lhs_contracting)
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _conv_cost(eqn, ins, outs) -> _Cost:
  p = eqn.params
  dn = p["dimension_numbers"]
  flops = cost_rules.conv_flops_windowed(
      lhs_shape=ins[0][0], rhs_shape=ins[1][0], out_shape=outs[0][0], lhs_spec=dn.lhs_spec,
      rhs_spec=dn.rhs_spec, out_spec=dn.out_spec, window_strides=p["window_strides"],
      padding=p["padding"], lhs_dilation=p.get("lhs_dilation"), rhs_dilation=p.get("rhs_dilation"),
      feature_group_count=p.get("feature_group_count", 1), batch_group_count=p.get("batch_group_count", 1))
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _reduce_cost(eqn, ins, outs) -> _Cost:
  del eqn
  return cost_rules.xla_reduce_flops(ins[0][0], outs[0][0]), _sum_bytes(ins), _sum_bytes(outs)


def _arg_reduce_cost(eqn, ins, outs) -> _Cost:
  del eqn
  flops = cost_rules.xla_reduce_flops(ins[0][0], outs[0][0], _ARG_REDUCER_FLOPS)
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _generic_reduce_cost(eqn, ins, outs) -> _Cost:
  # lax.reduce with a user reducer jaxpr: its equation count per application.
  reducer = eqn.params.get("jaxpr") or eqn.params.get("computation")
  reducer_flops = float(len(getattr(getattr(reducer, "jaxpr", reducer), "eqns", ()))) or 1.0
  return cost_rules.xla_reduce_flops(ins[0][0], outs[0][0], reducer_flops), _sum_bytes(ins), _sum_bytes(outs)


def _reduce_window_cost(eqn, ins, outs) -> _Cost:
  window = eqn.params["window_dimensions"]
  flops = sum(cost_rules.reduce_window_flops(o[0], window) for o in outs)
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _select_and_scatter_cost(eqn, ins, outs) -> _Cost:
  # select_and_scatter_add(source, operand): source is the pooled gradient.
  flops = cost_rules.select_and_scatter_flops(ins[0][0], eqn.params["window_dimensions"])
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _select_and_gather_cost(eqn, ins, outs) -> _Cost:
  flops = cost_rules.select_and_scatter_flops(outs[0][0], eqn.params["window_dimensions"])
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _sort_cost(eqn, ins, outs) -> _Cost:
  flops = cost_rules.sort_flops(ins[0][0], eqn.params.get("num_keys", 1))
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _top_k_cost(eqn, ins, outs) -> _Cost:
  del eqn
  return cost_rules.sort_flops(ins[0][0]), _sum_bytes(ins), _sum_bytes(outs)


def _integer_pow_cost(eqn, ins, outs) -> _Cost:
  flops = cost_rules.integer_pow_flops(outs[0][0], eqn.params["y"])
  return flops, _sum_bytes(ins), _sum_bytes(outs)


def _rng_cost(eqn, ins, outs) -> _Cost:
  # Threefry hashes 32-bit words: count the output's words (a key is 2 words).
  del eqn
  words = max(int(-(-_sum_bytes(outs) // 4)), sum(_elements(o) for o in outs))
  return cost_rules.rng_bits_flops((words,)), _sum_bytes(ins), _sum_bytes(outs)


_ELEMENTWISE = (
    "add", "sub", "mul", "div", "rem", "max", "min", "neg", "sign", "floor", "ceil", "round",
    "is_finite", "abs", "and", "or", "not", "xor", "eq", "ne", "lt", "le", "gt", "ge", "eq_to",
    "le_to", "lt_to", "select_n", "clamp", "nextafter", "shift_left", "shift_right_arithmetic",
    "shift_right_logical", "population_count", "clz", "add_any", "square", "real", "imag", "conj",
    "complex", "mulhi", "zeros_like")
_TRANSCENDENTAL = (
    "exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin",
    "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "atan2", "sqrt", "rsqrt", "cbrt",
    "erf", "erfc", "erf_inv", "lgamma", "digamma", "igamma", "igammac", "igamma_grad_a", "pow",
    "bessel_i0e", "bessel_i1e", "polygamma", "zeta", "regularized_incomplete_beta",
    "random_gamma_grad")
_VIEWS = {  # identities and metadata-only reshapes: op type of each
    "reshape": "reshape", "squeeze": "reshape", "expand_dims": "reshape",
    "stop_gradient": "copy", "optimization_barrier": "copy", "sharding_constraint": "copy",
    "reshard": "copy", "pvary": "copy", "layout_constraint": "copy", "name": "copy",
    "random_wrap": "convert", "random_unwrap": "convert",
}

#: primitive name -> (op type in ops.OP_TYPES, cost rule).
_RULES: dict[str, tuple[str, Callable]] = {
    **{p: ("elementwise", _elementwise_cost) for p in _ELEMENTWISE},
    **{p: ("transcendental", _elementwise_cost) for p in _TRANSCENDENTAL},
    **{p: (t, _view_cost) for p, t in _VIEWS.items()},
    "integer_pow": ("elementwise", _integer_pow_cost),
    "convert_element_type": ("convert", _elementwise_cost),
    "reduce_precision": ("convert", _elementwise_cost),
    "bitcast_convert_type": ("convert", _movement_cost),
    "broadcast_in_dim": ("broadcast", _movement_cost),
    "transpose": ("transpose", _movement_cost),
    "dot_general": ("dot", _dot_cost),
    "conv_general_dilated": ("conv", _conv_cost),
    "reduce_sum": ("reduce", _reduce_cost),
    "reduce_max": ("reduce", _reduce_cost),
    "reduce_min": ("reduce", _reduce_cost),
    "reduce_prod": ("reduce", _reduce_cost),
    "reduce_and": ("reduce", _reduce_cost),
    "reduce_or": ("reduce", _reduce_cost),
    "reduce_xor": ("reduce", _reduce_cost),
    "argmax": ("reduce", _arg_reduce_cost),
    "argmin": ("reduce", _arg_reduce_cost),
    "reduce": ("reduce", _generic_reduce_cost),
    "reduce_window_sum": ("reduce_window", _reduce_window_cost),
    "reduce_window_max": ("reduce_window", _reduce_window_cost),
    "reduce_window_min": ("reduce_window", _reduce_window_cost),
    "reduce_window": ("reduce_window", _reduce_window_cost),
    "select_and_scatter_add": ("select_and_scatter", _select_and_scatter_cost),
    "select_and_scatter": ("select_and_scatter", _select_and_scatter_cost),
    "select_and_gather_add": ("select_and_scatter", _select_and_gather_cost),
    "cumsum": ("cumulative", _elementwise_cost),
    "cumprod": ("cumulative", _elementwise_cost),
    "cummax": ("cumulative", _elementwise_cost),
    "cummin": ("cumulative", _elementwise_cost),
    "cumlogsumexp": ("cumulative", _elementwise_cost),
    "sort": ("sort", _sort_cost),
    "top_k": ("sort", _top_k_cost),
    "approx_top_k": ("sort", _top_k_cost),
    "slice": ("slice", _slice_cost),
    "split": ("slice", _movement_cost),
    "unstack": ("slice", _movement_cost),
    "dynamic_slice": ("dynamic_slice", _slice_cost),
    "dynamic_update_slice": ("dynamic_update_slice", _update_slice_cost),
    "concatenate": ("concatenate", _movement_cost),
    "stack": ("concatenate", _movement_cost),
    "pad": ("pad", _movement_cost),
    "rev": ("reverse", _movement_cost),
    "gather": ("gather", _gather_cost),
    "scatter": ("scatter", _scatter_cost),
    "scatter-add": ("scatter", _scatter_cost),
    "scatter_add": ("scatter", _scatter_cost),
    "scatter-sub": ("scatter", _scatter_cost),
    "scatter-mul": ("scatter", _scatter_cost),
    "scatter_mul": ("scatter", _scatter_cost),
    "scatter-min": ("scatter", _scatter_cost),
    "scatter_min": ("scatter", _scatter_cost),
    "scatter-max": ("scatter", _scatter_cost),
    "scatter_max": ("scatter", _scatter_cost),
    "copy": ("copy", _movement_cost),
    "copy_p": ("copy", _movement_cost),
    "device_put": ("copy", _movement_cost),
    "iota": ("iota", _source_cost),
    "empty": ("constant", _source_cost),
    "random_bits": ("rng", _rng_cost),
    "random_split": ("rng", _rng_cost),
    "random_fold_in": ("rng", _rng_cost),
    "random_seed": ("rng", _elementwise_cost),
    "threefry2x32": ("rng", _rng_cost),
    "rng_bit_generator": ("rng", _rng_cost),
    "rng_uniform": ("rng", _rng_cost),
    "psum": ("collective", _elementwise_cost),
    "pmax": ("collective", _elementwise_cost),
    "pmin": ("collective", _elementwise_cost),
    "all_gather": ("collective", _movement_cost),
    "all_to_all": ("collective", _movement_cost),
    "ppermute": ("collective", _movement_cost),
    "reduce_scatter": ("collective", _elementwise_cost),
    "psum_scatter": ("collective", _elementwise_cost),
    "pure_callback": ("custom_call", _movement_cost),
    "io_callback": ("custom_call", _movement_cost),
    "debug_callback": ("custom_call", _view_cost),
    "ffi_call": ("custom_call", _movement_cost),
}

#: Read-only view: primitive name -> op type (for documentation and tests).
PRIMITIVE_OP_TYPES: Mapping[str, str] = {p: t for p, (t, _) in _RULES.items()}
assert all(t in ops.OP_TYPE_ID for t in PRIMITIVE_OP_TYPES.values())


def _eqn_cost(eqn) -> tuple[str, _Cost]:
  """(op type or unknown primitive name, cost) of a non-call, non-control-flow equation."""
  ins = [_aval_info(v.aval) for v in eqn.invars]
  outs = [_aval_info(v.aval) for v in eqn.outvars]
  op_type, rule = _RULES.get(eqn.primitive.name, (None, _elementwise_cost))
  try:
    cost = rule(eqn, ins, outs)
  except Exception:  # pylint: disable=broad-except
    # A primitive whose params changed shape across JAX versions: never crash.
    cost = _elementwise_cost(eqn, ins, outs)
  return (op_type or eqn.primitive.name), cost


# ---------------------------------------------------------------------------
# Names.
# ---------------------------------------------------------------------------


def layer_path(node_name: str) -> tuple[str, ...]:
  """The module path of a node: its name without the last component.

  ``layer_path("M/encoder/dense_1/dot_general") == ("M", "encoder", "dense_1")``;
  for a parameter ``params/Dense_0/kernel`` it is ``("params", "Dense_0")``.
  """
  return tuple(node_name.split("/")[:-1])


def _collapse_repeated_prefix(scopes: tuple[str, ...]) -> tuple[str, ...]:
  changed = True
  while changed:
    changed = False
    for k in range(1, len(scopes) // 2 + 1):
      if scopes[:k] == scopes[k : 2 * k]:
        scopes = scopes[:k] + scopes[2 * k :]
        changed = True
        break
  return scopes


def _parse_name_stack(name_stack) -> tuple[tuple[str, ...], bool]:
  """(scopes, is_backward) of a JAX NameStack, transforms stripped."""
  stack = getattr(name_stack, "stack", None)
  if stack is not None:
    scopes, backward = [], False
    for elem in stack:
      if type(elem).__name__ == "Transform":
        backward = backward or elem.name == "transpose"
      else:
        scopes.append(elem.name)
    return tuple(scopes), backward
  # Fallback on the string form, e.g. "transpose(jvp(M))/encoder".
  text = str(name_stack or "")
  backward = "transpose(" in text
  scopes = []
  for part in filter(None, text.split("/")):
    while "(" in part and part.endswith(")"):
      part = part[part.index("(") + 1 : -1]
    if part:
      scopes.append(part)
  return tuple(scopes), backward


def _invar_names(fn, args: Sequence[Any]) -> tuple[list[str], list[int]]:
  """Names and argument indices of the flattened leaves of ``args``."""
  arg_names: list[str] = []
  try:
    for p in inspect.signature(fn).parameters.values():
      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
        arg_names.append(p.name)
  except (TypeError, ValueError):
    pass
  names, argnums = [], []
  for i, arg in enumerate(args):
    arg_name = arg_names[i] if i < len(arg_names) else f"arg{i}"
    for path, _ in jax.tree_util.tree_flatten_with_path(arg)[0]:
      key = jax.tree_util.keystr(path, simple=True, separator="/")
      names.append(f"{arg_name}/{key}" if key else arg_name)
      argnums.append(i)
  return names, argnums


# ---------------------------------------------------------------------------
# The importer.
# ---------------------------------------------------------------------------


def _callee(eqn):
  """The callee (Jaxpr or ClosedJaxpr) of a call-like equation, or None."""
  key = CALL_PRIMITIVES.get(eqn.primitive.name)
  if key is None and isinstance(eqn.primitive, jax_core.CallPrimitive):
    key = "call_jaxpr"
  if key is None:
    return None
  callee = eqn.params.get(key)
  jaxpr = getattr(callee, "jaxpr", callee)
  if (jaxpr is None or not hasattr(jaxpr, "eqns") or len(jaxpr.invars) != len(eqn.invars)
      or len(jaxpr.outvars) != len(eqn.outvars)):
    return None
  return callee


def _open(closed_or_open):
  """The open Jaxpr of a ClosedJaxpr (or the Jaxpr itself)."""
  return getattr(closed_or_open, "jaxpr", closed_or_open)


class _Importer:
  """Walks a jaxpr and emits nodes into a GraphBuilder."""

  def __init__(self, builder: graph_lib.GraphBuilder, unroll_scan_limit: int):
    self.builder = builder
    self.unroll_scan_limit = int(unroll_scan_limit)
    self._scope_cache: dict[Any, tuple[tuple[str, ...], str, bool]] = {}
    self._cost_cache: dict[int, tuple[Any, np.ndarray]] = {}
    self._count_cache: dict[int, tuple[Any, int]] = {}
    self.num_unrolled_scans = 0
    self.num_control_flow = 0

  # -- names ---------------------------------------------------------------

  def _path(self, eqn, prefix: tuple[str, ...], backward: bool) -> tuple[tuple[str, ...], str, bool]:
    name_stack = eqn.source_info.name_stack
    key = (prefix, backward, name_stack)
    try:
      return self._scope_cache[key]
    except KeyError:
      pass
    except TypeError:  # unhashable name stack
      key = None
    scopes, is_backward = _parse_name_stack(name_stack)
    scopes = _collapse_repeated_prefix(prefix + scopes)
    hit = (scopes, "/".join(scopes), backward or is_backward)
    if key is not None:
      self._scope_cache[key] = hit
    return hit

  # -- nodes and edges -----------------------------------------------------

  def add_source(self, name: str, op_type: str, var, param: bool, backward: bool = False) -> int:
    shape, dtype, nbytes = _aval_info(var.aval)
    return self.builder.add_node(name, op_type, shape=shape, dtype=dtype, bytes_written=0.0,
                                 output_bytes=nbytes, param_bytes=nbytes if param else 0.0,
                                 attrs={"is_backward": backward})

  def _add_node(self, eqn, env: dict, name: str, op_type: str, cost: _Cost, backward: bool) -> int:
    outs = [_aval_info(v.aval) for v in eqn.outvars]
    shape, dtype = (outs[0][0], outs[0][1]) if outs else ((), "f32")
    flops, read, written = cost
    node = self.builder.add_node(name, op_type, shape=shape, dtype=dtype, flops=flops, bytes_read=read,
                                 bytes_written=written, output_bytes=_sum_bytes(outs),
                                 attrs={"is_backward": backward})
    self._wire(eqn.invars, env, node)
    for v in eqn.outvars:
      env[v] = node
    return node

  def _wire(self, invars, env: dict, node: int):
    for v in invars:
      if isinstance(v, jax_core.Literal):
        continue
      producer = env.get(v)
      if producer is not None:
        self.builder.add_edge(producer, node, _aval_info(v.aval)[2])

  def _bind_consts(self, jaxpr, env: dict, path: str, backward: bool):
    # Consts of inner closed jaxprs become constant nodes (values are not kept).
    for v in jaxpr.constvars:
      env[v] = self.add_source(f"{path}/constant" if path else "constant", "constant", v, False, backward)

  # -- walking -------------------------------------------------------------

  def emit(self, jaxpr, env: dict, prefix: tuple[str, ...], backward: bool):
    """Emits every equation of ``jaxpr``; ``env`` maps its invars/constvars to node ids."""
    for eqn in jaxpr.eqns:
      scopes, path, is_backward = self._path(eqn, prefix, backward)
      prim = eqn.primitive.name
      callee = _callee(eqn)
      if callee is not None:
        self._inline(eqn, callee, env, scopes, path, is_backward)
      elif prim == "scan":
        self._scan(eqn, env, scopes, path, is_backward)
      elif prim in ("while", "cond"):
        cost = self.cost_of_eqn(eqn)
        self.num_control_flow += 1
        self._add_node(eqn, env, f"{path}/{prim}" if path else prim, "control_flow", tuple(cost), is_backward)
      else:
        op_type, cost = _eqn_cost(eqn)
        self._add_node(eqn, env, f"{path}/{prim}" if path else prim, op_type, cost, is_backward)

  def _inline(self, eqn, callee, env: dict, scopes, path: str, backward: bool):
    jaxpr = _open(callee)
    inner: dict = {}
    self._bind_consts(jaxpr, inner, path, backward)
    for inner_var, outer_var in zip(jaxpr.invars, eqn.invars):
      if not isinstance(outer_var, jax_core.Literal) and outer_var in env:
        inner[inner_var] = env[outer_var]
    self.emit(jaxpr, inner, scopes, backward)
    for outer_var, inner_var in zip(eqn.outvars, jaxpr.outvars):
      if not isinstance(inner_var, jax_core.Literal) and inner_var in inner:
        env[outer_var] = inner[inner_var]

  def _scan(self, eqn, env: dict, scopes, path: str, backward: bool):
    p = eqn.params
    length, num_consts, num_carry = int(p["length"]), int(p["num_consts"]), int(p["num_carry"])
    jaxpr = _open(p["jaxpr"])
    if length * self.count_nodes(jaxpr) > self.unroll_scan_limit:
      self.num_control_flow += 1
      self._add_node(eqn, env, f"{path}/scan" if path else "scan", "control_flow",
                     tuple(self.cost_of_eqn(eqn)), backward)
      return
    self.num_unrolled_scans += 1

    def outer(v):
      return None if isinstance(v, jax_core.Literal) else env.get(v)

    const_env: dict = {}
    self._bind_consts(jaxpr, const_env, path, backward)
    ins = [outer(v) for v in eqn.invars]
    const_ids = ins[:num_consts]
    carry = ins[num_consts : num_consts + num_carry]
    xs = ins[num_consts + num_carry :]
    ys: list[list[tuple[int | None, Any]]] = [[] for _ in jaxpr.outvars[num_carry:]]
    for _ in range(length):
      inner = dict(const_env)
      for v, node in zip(jaxpr.invars, const_ids + carry + xs):
        if node is not None:
          inner[v] = node
      self.emit(jaxpr, inner, scopes, backward)
      outs = [None if isinstance(v, jax_core.Literal) else inner.get(v) for v in jaxpr.outvars]
      carry = outs[:num_carry]
      for j, v in enumerate(jaxpr.outvars[num_carry:]):
        ys[j].append((outs[num_carry + j], v))
    for v, node in zip(eqn.outvars[:num_carry], carry):
      if node is not None:
        env[v] = node
    # Stacked outputs: one node per ys, fed by every iteration's producer.
    for v, producers in zip(eqn.outvars[num_carry:], ys):
      shape, dtype, nbytes = _aval_info(v.aval)
      node = self.builder.add_node(f"{path}/scan_stack" if path else "scan_stack", "concatenate", shape=shape,
                                   dtype=dtype, bytes_read=nbytes, bytes_written=nbytes,
                                   attrs={"is_backward": backward})
      for producer, inner_var in producers:
        if producer is not None:
          self.builder.add_edge(producer, node, _aval_info(inner_var.aval)[2])
      env[v] = node

  # -- whole-jaxpr summaries -----------------------------------------------

  def count_nodes(self, jaxpr) -> int:
    """Number of nodes emitting ``jaxpr`` would add (scans counted as unrolled, capped)."""
    hit = self._count_cache.get(id(jaxpr))
    if hit is not None:
      return hit[1]
    total = 0
    for eqn in jaxpr.eqns:
      callee = _callee(eqn)
      if callee is not None:
        total += self.count_nodes(_open(callee))
      elif eqn.primitive.name == "scan":
        body = self.count_nodes(_open(eqn.params["jaxpr"]))
        unrolled = int(eqn.params["length"]) * body
        total += unrolled + len(eqn.outvars) if unrolled <= self.unroll_scan_limit else 1
      else:
        total += 1
    self._count_cache[id(jaxpr)] = (jaxpr, total)
    return total

  def cost_of_jaxpr(self, jaxpr) -> np.ndarray:
    """(3,) [FLOPs, bytes read, bytes written] of running ``jaxpr`` once."""
    hit = self._cost_cache.get(id(jaxpr))
    if hit is not None:
      return hit[1]
    total = np.zeros(3)
    for eqn in jaxpr.eqns:
      total += self.cost_of_eqn(eqn)
    self._cost_cache[id(jaxpr)] = (jaxpr, total)
    return total

  def cost_of_eqn(self, eqn) -> np.ndarray:
    callee = _callee(eqn)
    prim = eqn.primitive.name
    if callee is not None:
      return self.cost_of_jaxpr(_open(callee))
    if prim == "scan":
      return float(eqn.params["length"]) * self.cost_of_jaxpr(_open(eqn.params["jaxpr"]))
    if prim == "while":
      return (self.cost_of_jaxpr(_open(eqn.params["body_jaxpr"]))
              + self.cost_of_jaxpr(_open(eqn.params["cond_jaxpr"])))
    if prim == "cond":
      branches = [self.cost_of_jaxpr(_open(b)) for b in eqn.params["branches"]]
      return np.max(branches, axis=0) if branches else np.zeros(3)
    return np.asarray(_eqn_cost(eqn)[1], np.float64)


def from_jaxpr(closed_jaxpr, *, name: str = "jaxpr", invar_names: Sequence[str] | None = None,
               param_mask: Sequence[bool] | None = None, warn: Callable[[str], None] | None = None,
               unroll_scan_limit: int = DEFAULT_UNROLL_SCAN_LIMIT) -> graph_lib.ComputationGraph:
  """Imports an already traced (closed) jaxpr; see :func:`from_jax` for the conventions.

  Args:
    closed_jaxpr: a ``ClosedJaxpr`` (from ``jax.make_jaxpr``) or an open ``Jaxpr``.
    name: graph name.
    invar_names: one name per input variable (default ``arg0``, ``arg1``, ...).
    param_mask: one bool per input variable: whether its bytes count as
      ``param_bytes`` (default: all True).
    warn: callable receiving one message per unknown primitive name
      (default ``absl.logging.warning``).
    unroll_scan_limit: unroll a scan when ``length * nodes per body`` is at most this.

  Returns:
    The validated graph.

  Raises:
    GraphError: if the names or mask do not match the jaxpr's inputs.
  """
  jaxpr = _open(closed_jaxpr)
  num_in = len(jaxpr.invars)
  invar_names = list(invar_names) if invar_names is not None else [f"arg{i}" for i in range(num_in)]
  param_mask = list(param_mask) if param_mask is not None else [True] * num_in
  if len(invar_names) != num_in or len(param_mask) != num_in:
    raise graph_lib.GraphError(
        f"graph {name!r}: jaxpr has {num_in} inputs but got {len(invar_names)} names and "
        f"{len(param_mask)} parameter flags")
  builder = graph_lib.GraphBuilder(name, warn=warn)
  importer = _Importer(builder, unroll_scan_limit)
  env: dict = {}
  for i, v in enumerate(jaxpr.constvars):
    env[v] = importer.add_source(f"constant_{i}", "constant", v, False)
  for v, invar_name, is_param in zip(jaxpr.invars, invar_names, param_mask):
    env[v] = importer.add_source(invar_name, "parameter", v, bool(is_param))
  importer.emit(jaxpr, env, (), False)
  builder.meta.update({
      "source": "jax",
      "jax_version": jax.__version__,
      "jaxpr_equations": len(jaxpr.eqns),
      "unrolled_scans": importer.num_unrolled_scans,
      "control_flow_nodes": importer.num_control_flow,
  })
  return builder.build()


def from_jax(fn: Callable[..., Any], *example_args, name: str | None = None,
             param_argnums: int | Sequence[int] | None = None,
             warn: Callable[[str], None] | None = None,
             unroll_scan_limit: int = DEFAULT_UNROLL_SCAN_LIMIT) -> graph_lib.ComputationGraph:
  """Traces ``fn(*example_args)`` and imports it as an op-level graph.

  ``example_args`` may be pytrees (Flax variables, optax states, batches);
  each leaf becomes a ``parameter`` node named ``<arg name>/<key path>``, e.g.
  ``params/Dense_0/kernel`` for ``train_step(params, opt_state, batch)``.
  Static (non-array) arguments must be bound beforehand with
  ``functools.partial``.

  Args:
    fn: the function, e.g. a full training step (forward, backward, update).
    *example_args: example arguments (arrays or ``jax.ShapeDtypeStruct`` leaves).
    name: graph name (default: ``fn.__name__``).
    param_argnums: indices of the arguments whose leaves are parameters (their
      bytes become ``param_bytes``, e.g. ``(0, 1)`` for params and optimizer
      state); default: every argument.
    warn: callable receiving one message per unknown primitive name
      (default ``absl.logging.warning``).
    unroll_scan_limit: unroll a scan when ``length * nodes per body`` is at most
      this (default :data:`DEFAULT_UNROLL_SCAN_LIMIT`).

  Returns:
    The validated :class:`~go_jax.graph.graph.ComputationGraph`, with node
    attribute ``is_backward`` ((N,) bool) and ``meta["source"] == "jax"``.

  Raises:
    GraphError: (a ValueError) if ``fn`` is not callable, ``param_argnums`` is
      out of range, or tracing fails (the message names the JAX error).
  """
  if not callable(fn):
    raise graph_lib.GraphError(f"from_jax: fn must be callable, got {type(fn).__name__} {fn!r:.80}")
  name = name or getattr(fn, "__name__", None) or type(fn).__name__
  num_args = len(example_args)
  if param_argnums is None:
    param_args = set(range(num_args))
  else:
    param_args = {param_argnums} if isinstance(param_argnums, int) else set(param_argnums)
    bad = sorted(i for i in param_args if not (isinstance(i, int) and 0 <= i < num_args))
    if bad:
      raise graph_lib.GraphError(
          f"from_jax({name!r}): param_argnums {bad} out of range for {num_args} example arguments")
  try:
    closed = jax.make_jaxpr(fn)(*example_args)
  except Exception as err:  # pylint: disable=broad-except
    raise graph_lib.GraphError(
        f"from_jax({name!r}): tracing fn with the example arguments failed: "
        f"{type(err).__name__}: {err}") from err
  names, argnums = _invar_names(fn, example_args)
  if len(names) != len(closed.jaxpr.invars):  # e.g. a custom pytree that flattens differently
    names = [f"arg{i}" for i in range(len(closed.jaxpr.invars))]
    argnums = [-1] * len(names)
    param_mask = [param_argnums is None] * len(names)
  else:
    param_mask = [i in param_args for i in argnums]
  return from_jaxpr(closed, name=name, invar_names=names, param_mask=param_mask, warn=warn,
                    unroll_scan_limit=unroll_scan_limit)
