"""Importer for PipeDream layer profiles (Narayanan et al., SOSP 2019).

``graph.txt`` (see ``../shared/data/README.md``) has one line per layer::

  node4 -- Embedding(32320, 1024) -- forward_compute_time=0.073, backward_compute_time=6.949, activation_size=6291456.0, parameter_size=132382720.000

and one tab-indented line per edge (``\\tnodeA -- nodeB``: A feeds B).
Measured costs are kept as measured costs:

* ``latency["gpu"]`` = forward + backward compute time of the layer (file ms
  / 1000 = seconds): the layer's share of one training step;
* ``node_attrs["forward_time"]``, ``node_attrs["backward_time"]`` in seconds;
* ``output_bytes`` = ``activation_size`` (a ``[a; b; c]`` list is summed);
  every outgoing edge carries the producer's activation bytes;
* ``param_bytes`` = ``parameter_size``.

The op type comes from the PyTorch layer class (``Conv2d`` -> ``conv``,
``LSTM`` -> ``recurrent``, ...); unknown classes map to ``other`` with one
warning each. Nodes keep their file order; names are the file's ``nodeK``
followed by the layer description. Note that PipeDream's ``Input`` layers
carry the data-loading time as their forward time (636 ms for AlexNet); we
keep it, as measured.
"""

from __future__ import annotations

import os
import re

from go_jax.graph import graph as graph_lib

MS = 1e-3

_LAYER_TYPES: dict[str, str] = {
    "Conv2d": "conv",
    "Linear": "dot",
    "LSTM": "recurrent",
    "EmuBidirLSTM": "recurrent",
    "RecurrentAttention": "recurrent",
    "ReLU": "elementwise",
    "Dropout": "elementwise",
    "Add": "elementwise",
    "Sigmoid": "transcendental",
    "Tanh": "transcendental",
    "BatchNorm2d": "normalization",
    "LayerNorm": "normalization",
    "MaxPool2d": "reduce_window",
    "AvgPool2d": "reduce_window",
    "AdaptiveAvgPool2d": "reduce_window",
    "Concat": "concatenate",
    "View": "reshape",
    "Size": "reshape",
    "Flatten": "reshape",
    "__getitem__": "slice",
    "Embedding": "gather",
    "Softmax": "softmax",
    "LogSoftmax": "softmax",
    "Classifier": "dot",
    "CrossEntropyLoss": "loss",
    "Input": "parameter",
    "hidden": "parameter",
}

_NODE_RE = re.compile(r"^(?P<id>node\d+) -- (?P<desc>.*) -- (?P<attrs>forward_compute_time=.*)$")
_EDGE_RE = re.compile(r"^\t(?P<src>node\d+) -- (?P<dst>node\d+)\s*$")
_ATTR_RE = re.compile(r"(\w+)=(\[[^\]]*\]|[^,]+)")
_REQUIRED = ("forward_compute_time", "backward_compute_time", "activation_size", "parameter_size")


def layer_type(description: str) -> str:
  """PyTorch layer class of a description, e.g. ``Conv2d(3, 64, ...)`` -> ``Conv2d``."""
  head = re.split(r"[(\s]", description.strip(), maxsplit=1)[0]
  return re.sub(r"\d+$", "", head) if head.startswith("Input") else head


def looks_like(path: str, head: str) -> bool:
  """True if the start of a text file looks like a PipeDream graph.txt."""
  return bool(re.match(r"^node\d+ -- .* -- forward_compute_time=", head))


def _parse_value(path: str, line_no: int, key: str, text: str) -> float:
  parts = text.strip("[] ").split(";") if text.startswith("[") else [text]
  try:
    value = sum(float(p) for p in parts if p.strip())
  except ValueError:
    raise graph_lib.GraphError(f"{path}:{line_no}: {key}={text!r} is not a number") from None
  if value < 0 or value != value or value == float("inf"):
    raise graph_lib.GraphError(f"{path}:{line_no}: {key}={text!r} must be finite and >= 0")
  return value


def load(path: str | os.PathLike, name: str | None = None, warn=None) -> graph_lib.ComputationGraph:
  """Reads a PipeDream ``graph.txt``.

  Raises:
    graph_lib.GraphError: one line naming the file, the line and the problem.
  """
  path = os.fspath(path)
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except (OSError, UnicodeDecodeError) as e:
    raise graph_lib.GraphError(f"{path}: cannot read: {e}") from None
  if not any(line.strip() for line in lines):
    raise graph_lib.GraphError(f"{path}: file is empty")
  default_name = os.path.basename(os.path.dirname(os.path.abspath(path))) or "pipedream"
  builder = graph_lib.GraphBuilder(name or default_name, warn=warn)
  ids: dict[str, int] = {}
  activation: dict[str, float] = {}
  edges: list[tuple[int, str, str]] = []
  for line_no, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    edge = _EDGE_RE.match(line)
    if edge:
      edges.append((line_no, edge["src"], edge["dst"]))
      continue
    node = _NODE_RE.match(line)
    if not node:
      raise graph_lib.GraphError(f"{path}:{line_no}: cannot parse line {line[:60]!r} "
                                 "(expected 'nodeK -- layer -- key=value, ...' or '\\tnodeA -- nodeB')")
    attrs = dict(_ATTR_RE.findall(node["attrs"]))
    missing = [k for k in _REQUIRED if k not in attrs]
    if missing:
      raise graph_lib.GraphError(f"{path}:{line_no}: node {node['id']} is missing {', '.join(missing)}")
    values = {k: _parse_value(path, line_no, k, attrs[k].strip()) for k in _REQUIRED}
    if node["id"] in ids:
      raise graph_lib.GraphError(f"{path}:{line_no}: node {node['id']} is defined twice")
    kind = layer_type(node["desc"])
    op_type = _LAYER_TYPES.get(kind, kind)  # unknown -> GraphBuilder warns and maps to 'other'
    activation[node["id"]] = values["activation_size"]
    forward, backward = values["forward_compute_time"] * MS, values["backward_compute_time"] * MS
    ids[node["id"]] = builder.add_node(
        f"{node['id']} {node['desc'].strip()}", op_type, shape=(), dtype="unknown",
        output_bytes=values["activation_size"], bytes_written=values["activation_size"],
        param_bytes=values["parameter_size"], latency={"gpu": forward + backward},
        attrs={"forward_time": forward, "backward_time": backward})
  for line_no, src, dst in edges:
    for end in (src, dst):
      if end not in ids:
        raise graph_lib.GraphError(f"{path}:{line_no}: edge {src} -> {dst} names undefined node {end}")
    if src == dst:
      raise graph_lib.GraphError(f"{path}:{line_no}: edge {src} -> {dst} is a self-loop")
  for _, src, dst in edges:
    builder.add_edge(ids[src], ids[dst], activation[src])
  builder.meta.update({"source_format": "pipedream", "source_file": os.path.basename(path)})
  try:
    return builder.build()
  except graph_lib.GraphError as e:
    raise graph_lib.GraphError(f"{path}: {e}") from None
