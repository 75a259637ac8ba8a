"""Imports XLA HLO text modules as :class:`go_jax.graph.graph.ComputationGraph`.

Accepted input is the text form of an ``HloModule`` as printed by
``jax.jit(f).lower(...).as_text(dialect="hlo")`` (pre-optimization),
``compiled.as_text()`` (post-optimization, with fusions), TensorFlow's
``experimental_get_compiler_ir(...)(stage="hlo")`` and PyTorch/XLA dumps,
including older spellings (``%`` sigils, operands with inline types such as
``f32[2]{0} %x``, computation signatures ``(p: f32[2]) -> f32[2]``), layouts,
``/*index=5*/`` comments, literal constants of any size, ``sharding``,
``frontend_attributes``, ``backend_config`` and ``metadata`` attributes, and
the ``FileNames``/``StackFrames`` tables of newer dumps.

Parsing is a scannerless recursive descent over the whole text (no line
splitting: an instruction may span lines), with compiled regular expressions
for the lexical classes. Attribute values that the cost model does not need
(metadata, big literals, backend configs) are skipped by a bracket-balancing
scanner without being copied: a 44k-instruction training step (3.6 MB) parses
in about a second and imports in about three on a busy 2-core CPU. Every
error is a single-line :class:`go_jax.graph.graph.GraphError`
``"<source>:<line>: <problem>"``.

Semantics (how instructions become nodes):

* The ENTRY computation's instructions become nodes, in text order (no dead
  code elimination: what the text holds is what the graph holds).
* ``call``, ``fusion`` (post-optimization text) and ``async-start`` are
  inlined recursively: their computation's parameters are bound to the
  caller's operand values, nodes are named ``<call>/<inner>``, and the call's
  value is the callee's ROOT value. ``async-update``/``*-done`` pass values
  through.
* ``inline_fusions=False`` (optional; the default inlines) keeps every
  ``fusion`` as ONE node, as XLA runs it (one kernel): named like the
  instruction, FLOPs = the fused computation's FLOPs (nested fusions and calls
  included), bytes read = its operands' sizes and bytes written = its output
  size (the kernel's external traffic: internal tensors are never
  materialized), op type = ``conv``/``dot`` when it holds a convolution/dot,
  else that of the fused ROOT (the last array-producing instruction for a
  multi-output fusion). Its operands and outputs are its edges; a
  multi-output fusion is a tuple-typed node whose elements are distinct
  leaves. With the instruction order of a scheduled module
  (``is_scheduled=true``), the nodes of the ENTRY computation are then XLA's
  kernels in XLA's sequential order (see ``simulator/xla_validation.py``).
* ``tuple`` and ``get-tuple-element`` produce no nodes: values are trees of
  ``(producer node, element, bytes)`` leaves, so edges connect real producers
  to real consumers and carry the bytes of the tuple element actually used
  (a consumer of a whole tuple gets one edge per producer carrying the sum of
  the distinct elements it receives). Tuple-shaped ops (``while``,
  multi-output ``reduce``, ``sort``, ``custom-call``, ...) are single nodes
  with dtype ``tuple`` whose elements are distinct leaves.
* ``to_apply`` regions of ``reduce``, ``reduce-window``, ``scatter``,
  ``select-and-scatter``, ``map`` and ``all-reduce`` are costed as part of
  their op, never as nodes: the region's FLOPs per application (one per
  scalar elementwise op in it, e.g. 9 for JAX's argmax reducer) multiply the
  op's application count (``(in - out)`` elements for a reduce, as XLA). A
  ``sort`` costs ``n * ceil(log2 n)`` comparisons whatever its comparator, as
  XLA and the JAX importer count it.
* Convolutions are costed XLA-exactly (``cost_rules.conv_flops_windowed``:
  padding, strides and dilations from ``window=``, dims from ``dim_labels``).
* ``while`` becomes one ``control_flow`` node costing its body plus its
  condition *once*: the trip count is not known from pre-optimization text,
  so the node under-counts loops (documented in ``graph.meta``).
  ``conditional`` becomes one ``control_flow`` node costing its most
  expensive branch.
* ENTRY ``parameter`` instructions become ``parameter`` nodes whose
  ``param_bytes`` is their size; ``constant`` and ``iota`` become source nodes.
* Unknown opcodes become ``other`` nodes (0 FLOPs) with one warning each.

FLOP and byte formulas are those of :mod:`go_jax.graph.cost_rules` (XLA
``HloCostAnalysis`` conventions), shared with the JAX importer.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Callable, NamedTuple, Sequence

from go_jax.graph import cost_rules
from go_jax.graph import graph
from go_jax.graph import ops

# -----------------------------------------------------------------------------
# Lexical classes.
# -----------------------------------------------------------------------------

# Whitespace and comments (``/*index=5*/`` annotations, ``//`` line comments).
_WS_RE = re.compile(r"(?:\s+|/\*.*?\*/|//[^\n]*)*", re.S)
_NAME_RE = re.compile(r"%?([A-Za-z0-9_][\w.\-]*)")
_OPCODE_RE = re.compile(r"[a-z][a-z0-9_\-]*")
_ARRAY_SHAPE_RE = re.compile(r"([a-z][a-z0-9]*)\[([^\]\n]*)\]")
_ATTR_NAME_RE = re.compile(r"[A-Za-z_][\w.\-]*")
_INT_RE = re.compile(r"-?\d+")
_SECTION_ENTRY_RE = re.compile(r"\d+(?=\s)")
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
# A chunk of an attribute value outside brackets stops at whitespace and commas;
# inside brackets only brackets and strings matter, so big literals skip fast.
_TOP_CHUNK_RE = re.compile(r'[^\s,(){}\[\]"]*')
_DEEP_CHUNK_RE = re.compile(r'[^(){}\[\]"]*')
_TOKEN_PREVIEW_RE = re.compile(r"\S{1,24}")
# Fast paths for the common spellings; anything else takes the general path,
# which also produces the error messages.
_FAST_HEAD_RE = re.compile(r"(ROOT\s+)?%?([A-Za-z0-9_][\w.\-]*)[ \t]*=[ \t]*")
_FAST_OPCODE_RE = re.compile(r"[ \t]*([a-z][a-z0-9_\-]*)\(")
_FAST_OPERAND_RE = re.compile(r"[ \t]*%?([A-Za-z0-9_][\w.\-]*)[ \t]*([,)])")
_FAST_ATTR_RE = re.compile(r"[ \t]*,[ \t]*([A-Za-z_][\w.\-]*)=")

_OPENERS = "({["
_CLOSERS = ")}]"

#: Top-level tables of newer dumps (``FileNames`` ... ``StackFrames``): entries
#: ``<int> <value>`` that carry no computation.
_SECTIONS = frozenset({"FileNames", "FunctionNames", "FileLocations", "StackFrames"})

#: Attributes whose raw text is kept; every other attribute is skipped.
_WANTED_ATTRS = frozenset({
    "to_apply", "calls", "body", "condition", "branch_computations", "true_computation",
    "false_computation", "lhs_contracting_dims", "dim_labels", "window", "dimensions", "index",
    "feature_group_count", "batch_group_count", "fft_length",
})


class _Shape(NamedTuple):
  """A parsed HLO shape: an array (``elements is None``) or a tuple."""
  dtype: str  # HLO element type name, "tuple" for tuples
  dims: tuple[int, ...]  # () for scalars and tuples
  nbytes: float  # dense size in bytes (sum over elements for tuples)
  elements: tuple["_Shape", ...] | None


class _Instruction:
  """One parsed instruction (attribute values kept as raw text)."""
  __slots__ = ("name", "shape", "opcode", "operands", "attrs", "is_root", "param_num", "pos")

  def __init__(self, name, shape, opcode, operands, attrs, is_root, param_num, pos):
    self.name: str = name
    self.shape: _Shape = shape
    self.opcode: str = opcode
    self.operands: tuple[str, ...] = operands
    self.attrs: dict[str, str] = attrs
    self.is_root: bool = is_root
    self.param_num: int = param_num
    self.pos: int = pos  # offset of the instruction in the text


class _Computation(NamedTuple):
  name: str
  instructions: tuple[_Instruction, ...]
  by_name: dict[str, _Instruction]
  root: _Instruction
  is_entry: bool
  pos: int


class _Module(NamedTuple):
  name: str | None
  computations: dict[str, _Computation]
  entry: _Computation
  num_instructions: int


def _element_bytes(dtype: str) -> int:
  if dtype in ops.DTYPE_BYTES:
    return ops.DTYPE_BYTES[dtype]
  # Exotic types (f8e4m3b11fnuz, s2, f4e2m1fn, ...): bytes from the bit width.
  bits = re.search(r"\d+", dtype)
  return -(-int(bits.group()) // 8) if bits else 0


def _tuple_shape(elements: Sequence[_Shape]) -> _Shape:
  return _Shape("tuple", (), float(sum(e.nbytes for e in elements)), tuple(elements))


# -----------------------------------------------------------------------------
# Parser.
# -----------------------------------------------------------------------------


class _Parser:
  """Recursive-descent parser over the full text of one HLO module."""

  def __init__(self, text: str, label: str):
    self.text = text
    self.n = len(text)
    self.pos = 0
    self.label = label
    self._shape_cache: dict[str, _Shape] = {}

  # --- errors and positions ---------------------------------------------------

  def line_of(self, pos: int) -> int:
    return self.text.count("\n", 0, min(max(pos, 0), self.n)) + 1

  def error(self, message: str, pos: int | None = None) -> graph.GraphError:
    line = self.line_of(self.pos if pos is None else pos)
    return graph.GraphError(f"{self.label}:{line}: {message}")

  def _found(self) -> str:
    self.skip_ws()
    if self.pos >= self.n:
      return "end of file (truncated input?)"
    return repr(_TOKEN_PREVIEW_RE.match(self.text, self.pos).group())

  # --- lexical helpers ---------------------------------------------------------

  def skip_ws(self):
    self.pos = _WS_RE.match(self.text, self.pos).end()

  def peek(self) -> str:
    self.skip_ws()
    return self.text[self.pos] if self.pos < self.n else ""

  def accept(self, token: str) -> bool:
    self.skip_ws()
    if self.text.startswith(token, self.pos):
      self.pos += len(token)
      return True
    return False

  def expect(self, token: str, context: str):
    if not self.accept(token):
      raise self.error(f"expected {token!r} {context}, found {self._found()}")

  def accept_keyword(self, word: str) -> bool:
    self.skip_ws()
    end = self.pos + len(word)
    if self.text.startswith(word, self.pos) and (end >= self.n or not (self.text[end].isalnum()
                                                                        or self.text[end] in "_.-%")):
      self.pos = end
      return True
    return False

  def name(self, what: str) -> str:
    self.skip_ws()
    m = _NAME_RE.match(self.text, self.pos)
    if not m:
      raise self.error(f"expected {what}, found {self._found()}")
    self.pos = m.end()
    return m.group(1)

  def skip_value(self):
    """Skips one attribute value: a bare word, a string or balanced brackets."""
    text, pos, n = self.text, self.pos, self.n
    stack: list[int] = []
    while True:
      pos = (_DEEP_CHUNK_RE if stack else _TOP_CHUNK_RE).match(text, pos).end()
      if pos >= n:
        if stack:
          raise self.error(f"unexpected end of file: {text[stack[-1]]!r} opened at line "
                           f"{self.line_of(stack[-1])} is never closed (truncated input?)", n)
        break
      char = text[pos]
      if char == '"':
        m = _STRING_RE.match(text, pos)
        if not m:
          raise self.error("unterminated string", pos)
        pos = m.end()
      elif char in _OPENERS:
        stack.append(pos)
        pos += 1
      elif char in _CLOSERS:
        if not stack:
          break
        opener = text[stack.pop()]
        if _OPENERS.index(opener) != _CLOSERS.index(char):
          raise self.error(f"mismatched {char!r} closing {opener!r}", pos)
        pos += 1
      else:  # whitespace or comma at top level
        break
    self.pos = pos

  # --- grammar ------------------------------------------------------------------

  def shape(self) -> _Shape:
    """shape := '(' [shape (',' shape)*] ')' | type '[' dims ']' ['{' layout '}']."""
    if self.accept("("):
      elements = []
      if not self.accept(")"):
        while True:
          elements.append(self.shape())
          if self.accept(","):
            continue
          self.expect(")", "to close a tuple shape")
          break
      return _tuple_shape(elements)
    self.skip_ws()
    m = _ARRAY_SHAPE_RE.match(self.text, self.pos)
    if not m:
      raise self.error(f"expected a shape such as f32[2,3], found {self._found()}")
    key = m.group()
    shape = self._shape_cache.get(key)
    if shape is None:
      shape = self._array_shape(m.group(1), m.group(2))
      self._shape_cache[key] = shape
    self.pos = m.end()
    # A layout ({1,0}, {1,0:T(8,128)}) follows the dims without a space.
    if self.pos < self.n and self.text[self.pos] == "{":
      self.skip_value()
    return shape

  def _array_shape(self, dtype: str, dims_text: str) -> _Shape:
    dims = []
    for dim in dims_text.split(","):
      dim = dim.strip()
      if not dim:
        continue
      if dim.startswith("<="):  # bounded dynamic dimension: use the bound
        dim = dim[2:]
      if dim == "?":  # unbounded dynamic dimension: size unknown, count one
        dims.append(1)
        continue
      if not dim.isdigit():
        raise self.error(f"bad dimension {dim!r} in shape {dtype}[{dims_text}]")
      dims.append(int(dim))
    dims = tuple(dims)
    return _Shape(dtype, dims, float(cost_rules.num_elements(dims) * _element_bytes(dtype)), None)

  def attribute(self, wanted: frozenset[str], attrs: dict[str, str], owner: str, fast=None):
    """attribute := name '=' value (the ',' before it already consumed, or in ``fast``)."""
    if fast is not None:  # ', name=' matched by _FAST_ATTR_RE
      m = fast
      self.pos = fast.end()
    else:
      self.skip_ws()
      m = _ATTR_NAME_RE.match(self.text, self.pos)
      if not m:
        raise self.error(f"expected an attribute name after ',' in {owner}, found {self._found()}")
      self.pos = m.end()
      self.expect("=", f"after attribute {m.group()!r} of {owner}")
    self.skip_ws()
    start = self.pos
    self.skip_value()
    if start == self.pos:
      raise self.error(f"missing value for attribute {m.group()!r} of {owner}")
    key = m.group(1) if fast is not None else m.group()
    if key in wanted:
      attrs[key] = self.text[start:self.pos]

  def operands(self, owner: str) -> tuple[str, ...]:
    """operands := [operand (',' operand)*] ')' with operand := [shape] name."""
    names = []
    text = self.text
    while True:  # fast path: plain names
      m = _FAST_OPERAND_RE.match(text, self.pos)
      if not m:
        break
      names.append(m.group(1))
      self.pos = m.end()
      if m.group(2) == ")":
        return tuple(names)
    if not names and self.accept(")"):
      return ()
    while True:
      char = self.peek()
      if char == "(" or _ARRAY_SHAPE_RE.match(self.text, self.pos):
        self.shape()  # older formats spell the operand's type inline
      names.append(self.name(f"an operand name in the operand list of {owner!r}"))
      if self.accept(","):
        continue
      self.expect(")", f"to close the operand list of {owner!r}")
      return tuple(names)

  def instruction(self) -> _Instruction:
    """instruction := ['ROOT'] name '=' shape opcode '(' operands ')' (',' attr)*."""
    self.skip_ws()
    pos = self.pos
    m = _FAST_HEAD_RE.match(self.text, pos)
    if m:
      is_root, name = bool(m.group(1)), m.group(2)
      self.pos = m.end()
    else:
      is_root = self.accept_keyword("ROOT")
      name = self.name("an instruction name")
      self.expect("=", f"after instruction name {name!r}")
    shape = self.shape()
    m = _FAST_OPCODE_RE.match(self.text, self.pos)
    if m:
      opcode = m.group(1)
      self.pos = m.end() - 1
    else:
      self.skip_ws()
      m = _OPCODE_RE.match(self.text, self.pos)
      if not m:
        raise self.error(f"expected an opcode in instruction {name!r}, found {self._found()}")
      opcode = m.group()
      self.pos = m.end()
      if self.peek() != "(":
        raise self.error(f"expected '(' after opcode {opcode!r} of {name!r}, found {self._found()}")
    param_num = -1
    operands: tuple[str, ...] = ()
    if opcode == "constant":
      self.skip_value()  # the literal, possibly huge: never materialized
    elif opcode == "parameter":
      self.pos += 1
      self.skip_ws()
      m = _INT_RE.match(self.text, self.pos)
      if not m:
        raise self.error(f"expected a parameter number in {name!r}, found {self._found()}")
      self.pos = m.end()
      param_num = int(m.group())
      self.expect(")", f"after the parameter number of {name!r}")
    else:
      self.pos += 1
      operands = self.operands(name)
    attrs: dict[str, str] = {}
    while True:
      m = _FAST_ATTR_RE.match(self.text, self.pos)
      if m:
        self.attribute(_WANTED_ATTRS, attrs, repr(name), fast=m)
      elif self.accept(","):
        self.attribute(_WANTED_ATTRS, attrs, repr(name))
      else:
        break
    return _Instruction(name, shape, opcode, operands, attrs, is_root, param_num, pos)

  def computation(self) -> _Computation:
    """computation := ['ENTRY'] name [signature] ['->' shape] '{' instruction* '}'."""
    self.skip_ws()
    pos = self.pos
    is_entry = self.accept_keyword("ENTRY")
    name = self.name("a computation name or 'ENTRY'")
    if self.peek() == "(":
      self.skip_value()  # signature (p: f32[2], ...): the parameters say it again
    if self.accept("->"):
      self.shape()
    self.expect("{", f"to open computation {name!r}")
    instructions = []
    while True:
      char = self.peek()
      if char == "}":
        self.pos += 1
        break
      if not char:
        raise self.error(f"unexpected end of file inside computation {name!r} opened at line "
                         f"{self.line_of(pos)} (truncated input?)")
      instructions.append(self.instruction())
    while self.accept(","):  # e.g. execution_thread="main"
      self.attribute(frozenset(), {}, f"computation {name!r}")
    return self._finish_computation(name, instructions, is_entry, pos)

  def _finish_computation(self, name, instructions, is_entry, pos) -> _Computation:
    if not instructions:
      raise self.error(f"computation {name!r} has no instructions", pos)
    by_name: dict[str, _Instruction] = {}
    roots = []
    for inst in instructions:
      if inst.name in by_name:
        raise self.error(f"instruction {inst.name!r} is defined twice in computation {name!r} "
                         f"(first at line {self.line_of(by_name[inst.name].pos)})", inst.pos)
      by_name[inst.name] = inst
      if inst.is_root:
        roots.append(inst)
    if len(roots) > 1:
      raise self.error(f"computation {name!r} has more than one ROOT", roots[1].pos)
    for inst in instructions:
      for operand in inst.operands:
        if operand not in by_name:
          raise self.error(f"operand %{operand} of {inst.name!r} is not defined in computation "
                           f"{name!r}", inst.pos)
    root = roots[0] if roots else instructions[-1]
    return _Computation(name, tuple(instructions), by_name, root, is_entry, pos)

  def module(self) -> _Module:
    """module := ['HloModule' name (',' attr)*] (section | computation)*."""
    self.skip_ws()
    if self.pos >= self.n:
      raise self.error("empty HLO text (no HloModule and no computations)")
    module_name = None
    if self.accept_keyword("HloModule"):
      module_name = self.name("a module name after 'HloModule'")
      while self.accept(","):
        self.attribute(frozenset(), {}, "the HloModule header")
    computations: dict[str, _Computation] = {}
    entry = None
    last_pos = self.pos
    while self.peek():
      self.skip_ws()
      if self._section():
        continue
      comp = self.computation()
      last_pos = comp.pos
      if comp.name in computations:
        raise self.error(f"computation {comp.name!r} is defined twice (first at line "
                         f"{self.line_of(computations[comp.name].pos)})", comp.pos)
      computations[comp.name] = comp
      if comp.is_entry:
        if entry is not None:
          raise self.error(f"second ENTRY computation {comp.name!r} (first is {entry.name!r})", comp.pos)
        entry = comp
    if not computations:
      named = f" {module_name!r}" if module_name else ""
      raise self.error(f"empty module{named}: no computations", self.n)
    if entry is None:
      raise self.error(f"no ENTRY computation among {len(computations)} computation(s) "
                       f"(last one {comp.name!r})", last_pos)
    count = sum(len(c.instructions) for c in computations.values())
    return _Module(module_name, computations, entry, count)

  def _section(self) -> bool:
    for section in _SECTIONS:
      if self.accept_keyword(section):
        while True:
          self.skip_ws()
          m = _SECTION_ENTRY_RE.match(self.text, self.pos)
          if not m:
            return True
          self.pos = m.end()
          self.skip_ws()
          self.skip_value()
    return False


# -----------------------------------------------------------------------------
# Per-opcode cost rules.
# -----------------------------------------------------------------------------

# A rule's FLOP function gets (instruction, operand shapes, lowering); its byte
# functions get (instruction, operand shapes).
_FlopsFn = Callable[[_Instruction, Sequence[_Shape], "_Lowering"], float]
_BytesFn = Callable[[_Instruction, Sequence[_Shape]], float]


def _ints(text: str | None) -> list[int]:
  return [int(v) for v in _INT_RE.findall(text or "")]


def _array_elements(shape: _Shape) -> int:
  if shape.elements is None:
    return cost_rules.num_elements(shape.dims)
  return sum(_array_elements(e) for e in shape.elements)


def _first_array(shape: _Shape) -> _Shape:
  while shape.elements:
    shape = shape.elements[0]
  return shape


def _window_field(inst: _Instruction, field: str) -> list[str]:
  """One field of ``window={size=3x3 stride=2x2 pad=1_1x1_1 ...}``, per dimension."""
  m = re.search(rf"(?:^|[\s{{]){field}=([\w\-]+)", inst.attrs.get("window", ""))
  return m.group(1).split("x") if m else []


def _window_size(inst: _Instruction) -> list[int]:
  return [int(v) for v in _window_field(inst, "size")] or [1]


def _conv_spec(labels: str, major: str, minor: str) -> tuple[int, ...]:
  """(major dim, minor dim, spatial dims...) of one side of ``dim_labels``."""
  spatial = sorted((c for c in labels if c.isdigit()), key=int)
  return (labels.index(major), labels.index(minor), *(labels.index(c) for c in spatial))


def _no_flops(inst, operands, lowering) -> float:
  del inst, operands, lowering
  return 0.0


def _elementwise_flops(inst, operands, lowering) -> float:
  del operands, lowering
  return float(_array_elements(inst.shape))


def _dot_flops(inst, operands, lowering) -> float:
  del lowering
  contracting = _ints(inst.attrs.get("lhs_contracting_dims"))
  return cost_rules.dot_flops(inst.shape.dims, operands[0].dims, contracting)


def _conv_flops(inst, operands, lowering) -> float:
  """XLA-exact convolution FLOPs: only (output, tap) pairs that hit real input."""
  del lowering
  lhs, kernel = operands[0].dims, operands[1].dims
  feature_groups = (_ints(inst.attrs.get("feature_group_count")) or [1])[0]
  batch_groups = (_ints(inst.attrs.get("batch_group_count")) or [1])[0]
  try:
    lhs_labels, rest = inst.attrs["dim_labels"].split("_", 1)
    rhs_labels, out_labels = rest.split("->")
    specs = (_conv_spec(lhs_labels, "b", "f"), _conv_spec(rhs_labels, "o", "i"),
             _conv_spec(out_labels, "b", "f"))
  except (KeyError, ValueError):  # no/odd dim_labels: the window-blind upper bound
    return cost_rules.conv_flops(inst.shape.dims, kernel, len(kernel) - 1, batch_groups)
  num_spatial = len(specs[0]) - 2
  ones = ["1"] * num_spatial
  pads = [tuple(int(v) for v in p.split("_")) for p in _window_field(inst, "pad")] or [(0, 0)] * num_spatial
  return cost_rules.conv_flops_windowed(
      lhs, kernel, inst.shape.dims, *specs,
      window_strides=[int(v) for v in _window_field(inst, "stride") or ones], padding=pads,
      lhs_dilation=[int(v) for v in _window_field(inst, "lhs_dilate") or ones],
      rhs_dilation=[int(v) for v in _window_field(inst, "rhs_dilate") or ones],
      feature_group_count=feature_groups, batch_group_count=batch_groups)


def _reduce_flops(inst, operands, lowering) -> float:
  # reduce(inputs..., inits...): (in - out elements) applications of the region.
  return cost_rules.xla_reduce_flops(operands[0].dims, _first_array(inst.shape).dims,
                                     lowering.region_flops(inst, "to_apply"))


def _reduce_window_flops(inst, operands, lowering) -> float:
  del operands
  out = _first_array(inst.shape).dims
  return cost_rules.reduce_window_flops(out, _window_size(inst)) * lowering.region_flops(inst, "to_apply")


def _map_flops(inst, operands, lowering) -> float:
  del operands
  return float(_array_elements(inst.shape)) * lowering.region_flops(inst, "to_apply")


def _all_reduce_flops(inst, operands, lowering) -> float:
  return float(sum(_array_elements(s) for s in operands)) * lowering.region_flops(inst, "to_apply")


def _sort_flops(inst, operands, lowering) -> float:
  # n * ceil(log2 n) comparisons, as XLA and the JAX importer count them: the
  # comparator's own size is not multiplied in (JAX's total-order comparator
  # has ~10 scalar ops that XLA does not count either).
  del inst, lowering
  return cost_rules.sort_flops(operands[0].dims)


def _scatter_flops(inst, operands, lowering) -> float:
  # scatter(inputs[N], indices, updates[N]): one combiner call per update element.
  num_inputs = (len(operands) - 1) // 2
  return (cost_rules.num_elements(operands[num_inputs + 1].dims)
          * lowering.region_flops(inst, "to_apply"))


def _select_and_scatter_flops(inst, operands, lowering) -> float:
  # select over each source element's window, then one scatter per source
  # element: cost_rules.select_and_scatter_flops with the regions' costs.
  source = cost_rules.num_elements(operands[1].dims)
  window = cost_rules.num_elements(_window_size(inst))
  return (source * window * lowering.region_flops(inst, "select")
          + source * lowering.region_flops(inst, "scatter"))


def _while_flops(inst, operands, lowering) -> float:
  del operands
  # Body and condition once: the trip count is unknown before optimization.
  return (lowering.computation_flops(lowering.callee(inst, "body"))
          + lowering.computation_flops(lowering.callee(inst, "condition")))


def _conditional_flops(inst, operands, lowering) -> float:
  del operands
  return max((lowering.computation_flops(c) for c in lowering.branches(inst)), default=0.0)


def _per_element(factor: float) -> _FlopsFn:
  def flops(inst, operands, lowering) -> float:
    del operands, lowering
    return factor * _array_elements(_first_array(inst.shape))
  return flops


def _rng_bits_flops(inst, operands, lowering) -> float:
  del operands, lowering
  words = max(int(-(-inst.shape.nbytes // 4)), _array_elements(inst.shape))
  return cost_rules.rng_bits_flops((words,))


def _fft_flops(inst, operands, lowering) -> float:
  del lowering
  length = cost_rules.num_elements(_ints(inst.attrs.get("fft_length")) or [1])
  return 5.0 * _array_elements(operands[0]) * max(math.log2(max(length, 1)), 1.0)


def _triangular_solve_flops(inst, operands, lowering) -> float:
  del inst, lowering
  a, b = operands[0].dims, operands[1].dims
  return float(cost_rules.num_elements(b) * (a[-1] if a else 1))


def _cholesky_flops(inst, operands, lowering) -> float:
  del inst, lowering
  a = operands[0].dims
  n = a[-1] if a else 1
  return cost_rules.num_elements(a[:-2]) * n**3 / 3.0


def _read_operands(inst, operands) -> float:
  del inst
  return float(sum(s.nbytes for s in operands))


def _read_nothing(inst, operands) -> float:
  del inst, operands
  return 0.0


def _read_output_and_indices(inst, operands) -> float:
  # slice / dynamic-slice / gather read only what they keep, plus the indices.
  return inst.shape.nbytes + float(sum(s.nbytes for s in operands[1:]))


def _read_output(inst, operands) -> float:
  del operands
  return inst.shape.nbytes


def _read_update_and_indices(inst, operands) -> float:
  del inst
  return float(sum(s.nbytes for s in operands[1:]))


def _written_update(inst, operands) -> float:
  del inst
  return operands[1].nbytes  # dynamic-update-slice writes in place


def _read_scatter(inst, operands) -> float:
  del inst
  num_inputs = (len(operands) - 1) // 2
  return float(sum(s.nbytes for s in operands[num_inputs:]))


def _written_scatter(inst, operands) -> float:
  del inst
  num_inputs = (len(operands) - 1) // 2
  return float(sum(s.nbytes for s in operands[num_inputs + 1:]))


class _Rule(NamedTuple):
  """How one opcode lowers: a ``kind`` of lowering plus node cost functions.

  Kinds: ``node`` (one graph node), ``parameter``, ``tuple``,
  ``get-tuple-element``, ``inline`` (call/fusion: inline the callee),
  ``async-start``, ``pass`` (value of operand 0), ``done`` (element
  ``element`` of operand 0's value, whole value when None), ``token`` (no
  value: tokens carry no data).
  """
  kind: str = "node"
  op_type: str | None = None  # None: the HLO opcode itself (unknown -> "other")
  flops: _FlopsFn = _no_flops
  read: _BytesFn = _read_operands
  written: _BytesFn | None = None  # None: the output size
  element: int | None = None
  callee_attr: str = ""


_ELEMENTWISE_OPCODES = (
    "add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "and", "or", "xor",
    "not", "negate", "abs", "sign", "compare", "select", "clamp", "shift-left", "shift-right-arithmetic",
    "shift-right-logical", "round-nearest-afz", "round-nearest-even", "floor", "ceil", "is-finite",
    "popcnt", "count-leading-zeros", "clz", "real", "imag", "complex", "reduce-precision",
)
_TRANSCENDENTAL_OPCODES = (
    "exponential", "exponential-minus-one", "log", "log-plus-one", "logistic", "tanh", "sqrt",
    "rsqrt", "cbrt", "sine", "cosine", "tan", "atan2", "power", "erf",
)
_COLLECTIVE_OPCODES = (
    "all-gather", "all-gather-start", "all-to-all", "ragged-all-to-all", "collective-permute",
    "collective-permute-start", "collective-broadcast", "send", "recv", "send-done", "recv-done",
    "partition-id", "replica-id", "infeed", "outfeed",
)
_MOVEMENT_OPCODES = {
    "reshape": "reshape", "bitcast": "reshape", "dynamic-reshape": "reshape",
    "get-dimension-size": "reshape", "set-dimension-size": "reshape", "transpose": "transpose",
    "concatenate": "concatenate", "pad": "pad", "reverse": "reverse", "copy": "copy",
    "copy-start": "copy", "broadcast": "broadcast",
}

#: opcode -> lowering rule. Opcodes not listed lower to nodes of their own
#: (unknown) op type, which GraphBuilder maps to "other" with one warning.
_RULES: dict[str, _Rule] = {
    **{op: _Rule(op_type="elementwise", flops=_elementwise_flops) for op in _ELEMENTWISE_OPCODES},
    **{op: _Rule(op_type="transcendental", flops=_elementwise_flops) for op in _TRANSCENDENTAL_OPCODES},
    **{op: _Rule(op_type="collective") for op in _COLLECTIVE_OPCODES},
    **{op: _Rule(op_type=op_type) for op, op_type in _MOVEMENT_OPCODES.items()},
    "parameter": _Rule(kind="parameter", op_type="parameter", read=_read_nothing),
    "constant": _Rule(op_type="constant", read=_read_nothing),
    "iota": _Rule(op_type="iota", read=_read_nothing),
    "rng": _Rule(op_type="rng", flops=_elementwise_flops),
    "rng-bit-generator": _Rule(op_type="rng", flops=_rng_bits_flops),
    "rng-get-and-update-state": _Rule(op_type="rng", read=_read_nothing),
    "convert": _Rule(op_type="convert", flops=_elementwise_flops),
    "stochastic-convert": _Rule(op_type="convert", flops=_elementwise_flops),
    "bitcast-convert": _Rule(op_type="convert"),
    "dot": _Rule(op_type="dot", flops=_dot_flops),
    "convolution": _Rule(op_type="conv", flops=_conv_flops),
    "reduce": _Rule(op_type="reduce", flops=_reduce_flops),
    "reduce-window": _Rule(op_type="reduce_window", flops=_reduce_window_flops),
    "select-and-scatter": _Rule(op_type="select_and_scatter", flops=_select_and_scatter_flops),
    "map": _Rule(op_type="elementwise", flops=_map_flops),
    "sort": _Rule(op_type="sort", flops=_sort_flops),
    "topk": _Rule(op_type="sort", flops=_per_element(1.0)),
    "slice": _Rule(op_type="slice", read=_read_output),
    "dynamic-slice": _Rule(op_type="dynamic_slice", read=_read_output_and_indices),
    "dynamic-update-slice": _Rule(op_type="dynamic_update_slice", read=_read_update_and_indices,
                                  written=_written_update),
    "gather": _Rule(op_type="gather", read=_read_output_and_indices),
    "scatter": _Rule(op_type="scatter", flops=_scatter_flops, read=_read_scatter,
                     written=_written_scatter),
    "batch-norm-inference": _Rule(op_type="normalization", flops=_per_element(2.0)),
    "batch-norm-training": _Rule(op_type="normalization", flops=_per_element(7.0)),
    "batch-norm-grad": _Rule(op_type="normalization", flops=_per_element(11.0)),
    "fft": _Rule(op_type="other", flops=_fft_flops),
    "triangular-solve": _Rule(op_type="dot", flops=_triangular_solve_flops),
    "cholesky": _Rule(op_type="dot", flops=_cholesky_flops),
    "custom-call": _Rule(op_type="custom_call"),
    "all-reduce": _Rule(op_type="collective", flops=_all_reduce_flops),
    "all-reduce-start": _Rule(op_type="collective", flops=_all_reduce_flops),
    "reduce-scatter": _Rule(op_type="collective", flops=_all_reduce_flops),
    "while": _Rule(op_type="control_flow", flops=_while_flops),
    "conditional": _Rule(op_type="control_flow", flops=_conditional_flops),
    "tuple": _Rule(kind="tuple"),
    "get-tuple-element": _Rule(kind="get-tuple-element"),
    "call": _Rule(kind="inline", callee_attr="to_apply"),
    "fusion": _Rule(kind="inline", callee_attr="calls"),
    "async-start": _Rule(kind="async-start", callee_attr="calls"),
    "async-update": _Rule(kind="pass"),
    "async-done": _Rule(kind="done", element=1),
    "all-reduce-done": _Rule(kind="done"),
    "all-gather-done": _Rule(kind="done", element=1),
    "collective-permute-done": _Rule(kind="done", element=1),
    "copy-done": _Rule(kind="done", element=1),
    "opt-barrier": _Rule(kind="pass"),
    "optimization-barrier": _Rule(kind="pass"),
    "domain": _Rule(kind="pass"),
    "add-dependency": _Rule(kind="pass"),
    "after-all": _Rule(kind="token"),
}
_UNKNOWN_RULE = _Rule()

#: Kinds that produce no node and cost nothing themselves.
_FREE_KINDS = frozenset({"parameter", "tuple", "get-tuple-element", "pass", "done", "token"})


# -----------------------------------------------------------------------------
# Lowering to a graph.
# -----------------------------------------------------------------------------

# A value is a leaf ``(node id, element id, bytes)`` or a list of values (a tuple).
_Value = Any
_PENDING = object()


def _node_value(node_id: int, shape: _Shape, counter: list[int]) -> _Value:
  if shape.elements is None:
    counter[0] += 1
    return (node_id, counter[0], shape.nbytes)
  return [_node_value(node_id, e, counter) for e in shape.elements]


def _leaves(value: _Value, out: list):
  if isinstance(value, list):
    for element in value:
      _leaves(element, out)
  else:
    out.append(value)


class _Lowering:
  """Evaluates the ENTRY computation symbolically, emitting graph nodes and edges."""

  def __init__(self, module: _Module, builder: graph.GraphBuilder, parser: _Parser,
               inline_fusions: bool = True):
    self.module = module
    self.builder = builder
    self.parser = parser
    self.inline_fusions = inline_fusions
    self.node_pos: list[int] = []  # text offset of each node's instruction
    self._flops_memo: dict[str, float] = {}
    self._active: set[str] = set()
    self._handlers = {
        "node": self._lower_node,
        "parameter": self._lower_parameter,
        "tuple": self._lower_tuple,
        "get-tuple-element": self._lower_get_tuple_element,
        "inline": self._lower_inline,
        "async-start": self._lower_async_start,
        "pass": self._lower_pass,
        "done": self._lower_done,
        "token": self._lower_token,
    }

  # --- called computations ----------------------------------------------------

  def _error(self, inst: _Instruction, message: str) -> graph.GraphError:
    return self.parser.error(message, inst.pos)

  def _computation(self, inst: _Instruction, name: str) -> _Computation:
    comp = self.module.computations.get(name.strip().lstrip("%"))
    if comp is None:
      raise self._error(inst, f"{inst.name!r} refers to undefined computation {name.strip()!r}")
    return comp

  def callee(self, inst: _Instruction, attr: str) -> _Computation:
    """The computation named by attribute ``attr`` of ``inst``."""
    if attr not in inst.attrs:
      raise self._error(inst, f"{inst.opcode} {inst.name!r} has no {attr}= computation")
    return self._computation(inst, inst.attrs[attr])

  def branches(self, inst: _Instruction) -> list[_Computation]:
    """The branch computations of a conditional (both spellings)."""
    if "branch_computations" in inst.attrs:
      names = inst.attrs["branch_computations"].strip("{} ").split(",")
      return [self._computation(inst, n) for n in names if n.strip()]
    return [self.callee(inst, "true_computation"), self.callee(inst, "false_computation")]

  def region_flops(self, inst: _Instruction, attr: str) -> float:
    """FLOPs of one application of the region ``attr`` (e.g. to_apply) of ``inst``."""
    return self.computation_flops(self.callee(inst, attr))

  def computation_flops(self, comp: _Computation) -> float:
    """Total FLOPs of evaluating ``comp`` once (callees inlined, loops once)."""
    if comp.name in self._flops_memo:
      return self._flops_memo[comp.name]
    if comp.name in self._active:
      raise self.parser.error(f"computation {comp.name!r} calls itself", comp.pos)
    self._active.add(comp.name)
    total = 0.0
    for inst in comp.instructions:
      rule = _RULES.get(inst.opcode, _UNKNOWN_RULE)
      if rule.kind in ("inline", "async-start"):
        total += self.computation_flops(self.callee(inst, rule.callee_attr))
      elif rule.kind == "node":
        total += self._cost(comp, inst, rule)[0]
    self._active.discard(comp.name)
    self._flops_memo[comp.name] = total
    return total

  # --- evaluation -------------------------------------------------------------

  def evaluate(self, comp: _Computation, args: list[_Value] | None, prefix: str) -> _Value:
    """Lowers every instruction of ``comp``; returns the value of its ROOT.

    Args:
      comp: the computation.
      args: values bound to its parameters, or None for the ENTRY computation
        (whose parameters become nodes).
      prefix: prepended to node names (``"<call>/"`` when inlined).
    """
    if comp.name in self._active:
      raise self.parser.error(f"computation {comp.name!r} calls itself", comp.pos)
    self._active.add(comp.name)
    env: dict[str, _Value] = {}
    for inst in comp.instructions:
      self._value(comp, inst, env, args, prefix)
    self._active.discard(comp.name)
    return env[comp.root.name]

  def _value(self, comp, inst, env, args, prefix) -> _Value:
    value = env.get(inst.name)
    if value is _PENDING:
      raise self._error(inst, f"{inst.name!r} depends on itself through tuple/call plumbing")
    if value is not None:
      return value
    env[inst.name] = _PENDING
    rule = _RULES.get(inst.opcode, _UNKNOWN_RULE)
    value = self._handlers[rule.kind](comp, inst, rule, env, args, prefix)
    env[inst.name] = value
    return value

  def _operand_values(self, comp, inst, env, args, prefix) -> list[_Value]:
    return [self._value(comp, comp.by_name[o], env, args, prefix) for o in inst.operands]

  def _cost(self, comp: _Computation, inst: _Instruction, rule: _Rule) -> tuple[float, float, float | None]:
    """(FLOPs, bytes read, bytes written or None) of a node instruction."""
    operand_shapes = [comp.by_name[o].shape for o in inst.operands]
    try:
      return (rule.flops(inst, operand_shapes, self), rule.read(inst, operand_shapes),
              rule.written(inst, operand_shapes) if rule.written else None)
    except graph.GraphError:
      raise
    except (IndexError, ValueError, TypeError, AttributeError) as e:
      # Wrong operand count or rank for the opcode: malformed input, not a bug.
      raise self._error(inst, f"{inst.opcode} {inst.name!r} has unexpected operands "
                        f"({len(operand_shapes)}: {', '.join(inst.operands)}): {e}") from None

  def _add_node(self, inst: _Instruction, name: str, op_type: str, flops: float, read: float,
                written: float | None, param_bytes: float = 0.0) -> int:
    shape = inst.shape
    is_array = shape.elements is None
    node_id = self.builder.add_node(
        name, op_type, shape=shape.dims if is_array else (), dtype=shape.dtype if is_array else "tuple",
        flops=flops, bytes_read=read, bytes_written=written, output_bytes=shape.nbytes,
        param_bytes=param_bytes)
    self.node_pos.append(inst.pos)
    return node_id

  def _connect(self, consumer: int, operand_values: Sequence[_Value]):
    leaves: list = []
    for value in operand_values:
      _leaves(value, leaves)
    distinct = {(producer, element): nbytes for producer, element, nbytes in leaves}
    per_producer: dict[int, float] = {}
    for (producer, _), nbytes in distinct.items():
      per_producer[producer] = per_producer.get(producer, 0.0) + nbytes
    for producer, nbytes in per_producer.items():
      self.builder.add_edge(producer, consumer, nbytes)

  # --- handlers, one per rule kind ----------------------------------------------

  def _lower_node(self, comp, inst, rule, env, args, prefix) -> _Value:
    flops, read, written = self._cost(comp, inst, rule)
    node_id = self._add_node(inst, prefix + inst.name, rule.op_type or inst.opcode, flops, read, written)
    value = _node_value(node_id, inst.shape, [0])
    # The value is known before the operands are: a cycle through real nodes
    # becomes a graph cycle, which ComputationGraph's validation reports.
    env[inst.name] = value
    self._connect(node_id, self._operand_values(comp, inst, env, args, prefix))
    return value

  def _lower_parameter(self, comp, inst, rule, env, args, prefix) -> _Value:
    if args is None:
      node_id = self._add_node(inst, prefix + inst.name, "parameter", 0.0, 0.0, None,
                               param_bytes=inst.shape.nbytes)
      return _node_value(node_id, inst.shape, [0])
    if not 0 <= inst.param_num < len(args):
      raise self._error(inst, f"parameter({inst.param_num}) of computation {comp.name!r} has no "
                        f"argument: the caller passes {len(args)}")
    return args[inst.param_num]

  def _lower_tuple(self, comp, inst, rule, env, args, prefix) -> _Value:
    return self._operand_values(comp, inst, env, args, prefix)

  def _lower_get_tuple_element(self, comp, inst, rule, env, args, prefix) -> _Value:
    operands = self._operand_values(comp, inst, env, args, prefix)
    if len(operands) != 1:
      raise self._error(inst, f"get-tuple-element {inst.name!r} takes one operand, "
                        f"got {len(operands)}")
    value = operands[0]
    index = _ints(inst.attrs.get("index"))
    if not index:
      raise self._error(inst, f"get-tuple-element {inst.name!r} has no index=")
    if not isinstance(value, list) or not 0 <= index[0] < len(value):
      raise self._error(inst, f"get-tuple-element {inst.name!r}: index {index[0]} out of range "
                        f"for operand %{inst.operands[0]}")
    return value[index[0]]

  def _lower_inline(self, comp, inst, rule, env, args, prefix) -> _Value:
    if inst.opcode == "fusion" and not self.inline_fusions:
      return self._lower_fusion_node(comp, inst, rule, env, args, prefix)
    callee = self.callee(inst, rule.callee_attr)
    operands = self._operand_values(comp, inst, env, args, prefix)
    return self.evaluate(callee, operands, f"{prefix}{inst.name}/")

  def _fusion_op_type(self, comp: _Computation) -> str:
    """``conv``/``dot`` if ``comp`` (or a computation it fuses/calls) holds one, else its ROOT's type."""
    found: set[str] = set()

    def visit(c: _Computation, seen: set[str]):
      if c.name in seen:
        return
      seen.add(c.name)
      for inst in c.instructions:
        rule = _RULES.get(inst.opcode, _UNKNOWN_RULE)
        if rule.kind == "node" and rule.op_type in ("conv", "dot"):
          found.add(rule.op_type)
        elif rule.kind in ("inline", "async-start"):
          visit(self.callee(inst, rule.callee_attr), seen)

    visit(comp, set())
    for op_type in ("conv", "dot"):
      if op_type in found:
        return op_type
    for inst in (comp.root, *reversed(comp.instructions)):
      rule = _RULES.get(inst.opcode, _UNKNOWN_RULE)
      if rule.kind == "node" and inst.shape.elements is None:
        return rule.op_type or inst.opcode
    return "other"

  def _lower_fusion_node(self, comp, inst, rule, env, args, prefix) -> _Value:
    """One node for a whole ``fusion`` (``inline_fusions=False``): XLA's kernel."""
    callee = self.callee(inst, rule.callee_attr)
    operand_shapes = [comp.by_name[o].shape for o in inst.operands]
    flops = self.computation_flops(callee)
    read = float(sum(s.nbytes for s in operand_shapes))
    node_id = self._add_node(inst, prefix + inst.name, self._fusion_op_type(callee), flops, read, None)
    value = _node_value(node_id, inst.shape, [0])
    env[inst.name] = value
    self._connect(node_id, self._operand_values(comp, inst, env, args, prefix))
    return value

  def _lower_async_start(self, comp, inst, rule, env, args, prefix) -> _Value:
    # async-start's shape is ((operands...), result, context...).
    operands = self._operand_values(comp, inst, env, args, prefix)
    result = self._lower_inline(comp, inst, rule, env, args, prefix)
    extra = max(len(inst.shape.elements or ()) - 2, 0)
    return [operands, result] + [[] for _ in range(extra)]

  def _lower_pass(self, comp, inst, rule, env, args, prefix) -> _Value:
    operands = self._operand_values(comp, inst, env, args, prefix)
    return operands[0] if operands else []

  def _lower_done(self, comp, inst, rule, env, args, prefix) -> _Value:
    value = self._lower_pass(comp, inst, rule, env, args, prefix)
    if rule.element is not None and isinstance(value, list) and len(value) > rule.element:
      return value[rule.element]
    return value

  def _lower_token(self, comp, inst, rule, env, args, prefix) -> _Value:
    self._operand_values(comp, inst, env, args, prefix)  # still checks the operands
    return []


# -----------------------------------------------------------------------------
# Public API.
# -----------------------------------------------------------------------------

_NODE_IN_MESSAGE_RE = re.compile(r"\bnode (\d+) \(")


def from_hlo_text(text: str, name: str | None = None, source: str | os.PathLike | None = None,
                  warn: Callable[[str], None] | None = None,
                  inline_fusions: bool = True) -> graph.ComputationGraph:
  """Builds a graph from the text of an XLA HLO module.

  Args:
    text: the module text (``HloModule ...`` followed by computations).
    name: graph name; defaults to the module's name (or ``"hlo"``).
    source: the file the text came from, used in error messages and metadata.
    warn: called once per unknown opcode (default ``absl.logging.warning``).
    inline_fusions: True (default) inlines every ``fusion`` computation (one
      node per fused instruction); False keeps each ``fusion`` as one node
      (one XLA kernel; see the module docstring), so that a scheduled
      module's ENTRY order is a node order.

  Returns:
    The validated :class:`go_jax.graph.graph.ComputationGraph` of the ENTRY
    computation (see the module docstring for the lowering rules). Its
    ``meta`` holds ``source_format="hlo"``, the module name, the source and
    the number of HLO instructions in the text.

  Raises:
    graph.GraphError: one line ``"<source>:<line>: <problem>"`` for malformed
      text (unparseable instruction, undefined operand or computation,
      missing ENTRY, truncated or empty module) or an invalid graph (cycle).
  """
  label = os.fspath(source) if source is not None else "<hlo text>"
  parser = _Parser(text, label)
  module = parser.module()
  builder = graph.GraphBuilder(name or module.name or "hlo", warn=warn)
  lowering = _Lowering(module, builder, parser, inline_fusions=inline_fusions)
  lowering.evaluate(module.entry, None, "")
  builder.meta.update({
      "source_format": "hlo",
      "hlo_module": module.name,
      "source": None if source is None else os.fspath(source),
      "hlo_instructions": module.num_instructions,
      "while_cost": "body + condition counted once (trip count unknown)",
  })
  if not inline_fusions:
    builder.meta["fusions"] = "one node per fusion instruction (inline_fusions=False)"
  try:
    return builder.build()
  except graph.GraphError as e:
    m = _NODE_IN_MESSAGE_RE.search(str(e))
    if m and int(m.group(1)) < len(lowering.node_pos):
      raise parser.error(str(e), lowering.node_pos[int(m.group(1))]) from None
    raise graph.GraphError(f"{label}: {e}") from None


def load_hlo(path: str | os.PathLike, name: str | None = None,
             warn: Callable[[str], None] | None = None,
             inline_fusions: bool = True) -> graph.ComputationGraph:
  """Reads an HLO text file (e.g. ``model.hlo``) and builds its graph.

  Args:
    path: the file.
    name: graph name; defaults to the file name without its extension.
    warn: called once per unknown opcode (default ``absl.logging.warning``).
    inline_fusions: as :func:`from_hlo_text`.

  Returns:
    The graph, as :func:`from_hlo_text`.

  Raises:
    graph.GraphError: on malformed text, naming ``path`` and the line.
    OSError: if the file cannot be read.
  """
  with open(path, encoding="utf-8", errors="replace") as f:
    text = f.read()
  stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
  return from_hlo_text(text, name=name or stem, source=path, warn=warn, inline_fusions=inline_fusions)
