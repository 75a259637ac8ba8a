"""The fixed op-type vocabulary of GO-JAX graphs.

Every node of a :class:`go_jax.graph.graph.ComputationGraph` carries one op type
from :data:`OP_TYPES`. The vocabulary is deliberately coarse (about 40 types): it
is what the GNN embeds and what the simulator uses to pick an efficiency class,
so it must be stable across importers (JAX jaxprs, XLA HLO, layer-level
profiles). Anything an importer cannot map goes to ``"other"``; importers warn
once per unknown op name and never crash.

Each op type belongs to one *op class* (:data:`OP_CLASSES`), which is what the
cost model uses (``eff[op_class]`` in the simulator's roofline):

* ``contraction``: dot / convolution / whole recurrent layers: compute bound,
  at most one per fused kernel.
* ``elementwise``: cheap per-element maps, fusible into consumers.
* ``reduction``: reductions, windowed reductions, normalisation layers, sorts.
* ``data_movement``: reshapes, transposes, slices, gathers/scatters, copies.
* ``source``: parameters, constants, iota: no compute, produce a tensor.
* ``other``: control flow, collectives, custom calls, unknown ops.
"""

from __future__ import annotations

import types

OP_TYPES: tuple[str, ...] = (
    "other",  # 0: unknown / unmapped; always id 0.
    # sources
    "parameter",  # a model parameter or step input (weights, optimizer state, data)
    "constant",
    "iota",
    "rng",  # random bits / random number generation
    # contractions
    "dot",  # dot_general, matmul, Linear layers
    "conv",  # convolution (incl. grouped / depthwise / transposed)
    "recurrent",  # a whole recurrent layer (LSTM/GRU) in layer-level graphs
    # elementwise
    "elementwise",  # add, mul, max, select, compare, logical ops, ...
    "transcendental",  # exp, log, tanh, logistic, sin, erf, pow, rsqrt, ...
    "convert",  # dtype conversion
    "broadcast",
    # reductions
    "reduce",  # reduce_sum/max/min/prod, argmax, ...
    "reduce_window",  # pooling
    "select_and_scatter",  # pooling backward
    "cumulative",  # cumsum / cumprod / cummax
    "sort",
    "normalization",  # batch/layer norm as one layer (layer-level graphs)
    "softmax",  # softmax as one layer (layer-level graphs)
    # data movement
    "reshape",  # reshape, squeeze, expand_dims, bitcast
    "transpose",
    "slice",
    "dynamic_slice",
    "dynamic_update_slice",
    "concatenate",
    "pad",
    "reverse",
    "gather",  # gather, embedding lookup
    "scatter",  # scatter, scatter-add
    "copy",
    "tuple",  # HLO tuple / get-tuple-element plumbing
    # other
    "control_flow",  # while / cond / conditional bodies we could not inline
    "collective",  # all-reduce, all-gather, send/recv, ...
    "custom_call",
    "loss",  # a loss layer (layer-level graphs)
)

OP_CLASSES: tuple[str, ...] = (
    "other",
    "source",
    "contraction",
    "elementwise",
    "reduction",
    "data_movement",
)

_CLASS_OF_TYPE: dict[str, str] = {
    "other": "other",
    "parameter": "source",
    "constant": "source",
    "iota": "source",
    "rng": "elementwise",
    "dot": "contraction",
    "conv": "contraction",
    "recurrent": "contraction",
    "elementwise": "elementwise",
    "transcendental": "elementwise",
    "convert": "elementwise",
    "broadcast": "elementwise",
    "reduce": "reduction",
    "reduce_window": "reduction",
    "select_and_scatter": "reduction",
    "cumulative": "reduction",
    "sort": "reduction",
    "normalization": "reduction",
    "softmax": "reduction",
    "reshape": "data_movement",
    "transpose": "data_movement",
    "slice": "data_movement",
    "dynamic_slice": "data_movement",
    "dynamic_update_slice": "data_movement",
    "concatenate": "data_movement",
    "pad": "data_movement",
    "reverse": "data_movement",
    "gather": "data_movement",
    "scatter": "data_movement",
    "copy": "data_movement",
    "tuple": "data_movement",
    "control_flow": "other",
    "collective": "other",
    "custom_call": "other",
    "loss": "other",
}
assert set(_CLASS_OF_TYPE) == set(OP_TYPES)

OP_TYPE_ID: types.MappingProxyType = types.MappingProxyType({t: i for i, t in enumerate(OP_TYPES)})
OP_CLASS_ID: types.MappingProxyType = types.MappingProxyType({c: i for i, c in enumerate(OP_CLASSES)})
# op_class_of_type[op_type_id] -> op_class_id
OP_CLASS_OF_TYPE_ID: tuple[int, ...] = tuple(OP_CLASS_ID[_CLASS_OF_TYPE[t]] for t in OP_TYPES)

NUM_OP_TYPES = len(OP_TYPES)
NUM_OP_CLASSES = len(OP_CLASSES)

# Op types that are contractions: a fused kernel may hold at most one of them.
CONTRACTION_TYPES: frozenset[str] = frozenset(t for t, c in _CLASS_OF_TYPE.items() if c == "contraction")


def op_class(op_type: str) -> str:
  """Returns the op class of an op type name (``"other"`` for unknown names)."""
  return _CLASS_OF_TYPE.get(op_type, "other")


# ---------------------------------------------------------------------------
# Element types.
# ---------------------------------------------------------------------------

#: Element types, with their size in bytes. Names follow XLA's HLO spelling;
#: importers map numpy/JAX names onto them with :func:`dtype_name`.
DTYPE_BYTES: types.MappingProxyType = types.MappingProxyType({
    "unknown": 0,
    "pred": 1,
    "s4": 1,  # rounded up: packed int4 is not modelled
    "u4": 1,
    "s8": 1,
    "u8": 1,
    "s16": 2,
    "u16": 2,
    "s32": 4,
    "u32": 4,
    "s64": 8,
    "u64": 8,
    "f8e4m3fn": 1,
    "f8e5m2": 1,
    "f16": 2,
    "bf16": 2,
    "f32": 4,
    "f64": 8,
    "c64": 8,
    "c128": 16,
    "token": 0,
    "tuple": 0,
})
DTYPES: tuple[str, ...] = tuple(DTYPE_BYTES)
DTYPE_ID: types.MappingProxyType = types.MappingProxyType({d: i for i, d in enumerate(DTYPES)})

_NUMPY_TO_HLO = {
    "bool": "pred",
    "int4": "s4",
    "uint4": "u4",
    "int8": "s8",
    "uint8": "u8",
    "int16": "s16",
    "uint16": "u16",
    "int32": "s32",
    "uint32": "u32",
    "int64": "s64",
    "uint64": "u64",
    "float8_e4m3fn": "f8e4m3fn",
    "float8_e5m2": "f8e5m2",
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
    "complex64": "c64",
    "complex128": "c128",
    "key<fry>": "u32",  # typed PRNG keys are pairs of uint32
}


def dtype_name(dtype) -> str:
  """Maps a numpy/JAX dtype (or its name, or an HLO name) onto :data:`DTYPES`."""
  name = str(dtype)
  if name in DTYPE_BYTES:
    return name
  return _NUMPY_TO_HLO.get(name, "unknown")
