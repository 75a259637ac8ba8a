"""Importer for the dnn-partitioning graphs (Tarnawski et al., NeurIPS 2020).

The files (see ``../shared/data/README.md``) carry *measured* costs, which we
keep as measured costs on the graph:

==========================  ================================================
file field                  ComputationGraph field
==========================  ================================================
``nodes[].fpgaLatency``     ``latency["accelerator"]`` (file ms / 1000 = s)
``nodes[].cpuLatency``      ``latency["cpu"]`` (file ms / 1000 = s)
``nodes[].size``            ``param_bytes`` (bytes resident on its device)
``nodes[].colorClass``      ``colocation`` (-1 when absent)
``nodes[].supportedOnFpga`` ``node_attrs["supported_on_accelerator"]``
``nodes[].isBackwardNode``  ``node_attrs["is_backward"]``
``edges[].size``            ``edge_bytes`` (0 when absent)
``edges[].cost``            ``transfer_time`` (file ms / 1000 = s)
``maxFPGAs`` etc.           ``meta["max_accelerators"]``, ``meta["max_cpus"]``,
                            ``meta["memory_per_accelerator"]`` (bytes)
==========================  ================================================

Nodes are ordered by their file ``id``. The files have no op types; the op
type is guessed from the debug ``name`` (operator graphs have ONNX-style names
such as ``MatMul_12_Grad/Gemm_3``); layer graphs (``node17``) and unmatched
names get ``"other"``. FLOPs are unknown (0): costs come from the measured
latencies. Output bytes are the largest outgoing edge size.

Expert splits (``human-experts/*_expert.json``) load with
:func:`load_expert_split` as a device per node: accelerator ``k`` -> ``k``,
the CPU -> ``max_accelerators``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from go_jax.graph import graph as graph_lib

MS = 1e-3  # seconds per file time unit

# First match wins; applied to the last '/'-component of the node name.
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"adam|sgd|optimizer|accumulategrad|_grad$", "elementwise"),
    (r"matmul|gemm|linear|addmm", "dot"),
    (r"conv", "conv"),
    (r"lstm|gru", "recurrent"),
    (r"batchnorm|layernorm|normalization|_bn", "normalization"),
    (r"softmax", "softmax"),
    (r"gelu|tanh|sigmoid|exp|erf|sqrt|pow", "transcendental"),
    (r"reducesum|reducemean|^sum|^mean", "reduce"),
    (r"pool", "reduce_window"),
    (r"transpose", "transpose"),
    (r"reshape|view|flatten|squeeze|unsqueeze|shape", "reshape"),
    (r"gather|embedding", "gather"),
    (r"concat", "concatenate"),
    (r"slice|split|getitem", "slice"),
    (r"relu|dropout|add|sub|mul|div|cast|identity|where|equal|less|greater|not", "elementwise"),
    (r"weight|bias|_w_|_b_|_s_|running_|saved_|input|label|mask", "parameter"),
    (r"loss|crossentropy", "loss"),
)
_COMPILED_RULES = tuple((re.compile(p, re.IGNORECASE), t) for p, t in _NAME_RULES)


def op_type_from_name(name: str) -> str:
  """Guesses the op type of a dnn-partitioning node from its debug name."""
  last = name.rsplit("/", 1)[-1]
  if re.fullmatch(r"node\d+", last):
    return "other"
  for pattern, op_type in _COMPILED_RULES:
    if pattern.search(last):
      return op_type
  return "other"


def _read_json(path: str) -> Any:
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except OSError as e:
    raise graph_lib.GraphError(f"{path}: cannot read: {e.strerror}") from None
  if not text.strip():
    raise graph_lib.GraphError(f"{path}: file is empty")
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise graph_lib.GraphError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None


def _number(path: str, where: str, record: dict, key: str, default: float | None = None) -> float:
  if key not in record:
    if default is not None:
      return default
    raise graph_lib.GraphError(f"{path}: {where}: missing field {key!r}")
  value = record[key]
  if isinstance(value, bool):
    return float(value)
  if not isinstance(value, (int, float)):
    raise graph_lib.GraphError(f"{path}: {where}: field {key!r} is {value!r}, not a number")
  value = float(value)
  if not np.isfinite(value) or value < 0:
    raise graph_lib.GraphError(f"{path}: {where}: field {key!r} is {value}, must be finite and >= 0")
  return value


def looks_like(path: str, head: str) -> bool:
  """True if the start of a JSON file looks like a dnn-partitioning graph."""
  return head.lstrip().startswith("{") and ("maxSizePerFPGA" in head or "fpgaLatency" in head)


def load(path: str | os.PathLike, name: str | None = None) -> graph_lib.ComputationGraph:
  """Reads a dnn-partitioning graph JSON file (layer or operator graph).

  Raises:
    graph_lib.GraphError: one line naming the file and the node/edge at fault.
  """
  path = os.fspath(path)
  data = _read_json(path)
  if not isinstance(data, dict) or "nodes" not in data or "edges" not in data:
    raise graph_lib.GraphError(f"{path}: not a dnn-partitioning graph (need an object with 'nodes' and 'edges')")
  nodes, edges = data["nodes"], data["edges"]
  if not isinstance(nodes, list) or not isinstance(edges, list):
    raise graph_lib.GraphError(f"{path}: 'nodes' and 'edges' must be lists")
  if not nodes:
    raise graph_lib.GraphError(f"{path}: graph is empty (no nodes)")
  index: dict[int, int] = {}
  for k, node in enumerate(nodes):
    if not isinstance(node, dict) or "id" not in node:
      raise graph_lib.GraphError(f"{path}: nodes[{k}] has no 'id'")
    if not isinstance(node["id"], int) or isinstance(node["id"], bool):
      raise graph_lib.GraphError(f"{path}: nodes[{k}]: id {node['id']!r} is not an integer")
    if node["id"] in index:
      raise graph_lib.GraphError(f"{path}: nodes[{k}]: duplicate node id {node['id']}")
    index[node["id"]] = k
  order = sorted(index)
  position = {node_id: i for i, node_id in enumerate(order)}

  out_bytes: dict[int, float] = {}
  parsed_edges = []
  for k, edge in enumerate(edges):
    where = f"edges[{k}]"
    if not isinstance(edge, dict):
      raise graph_lib.GraphError(f"{path}: {where} is not an object")
    src, dst = edge.get("sourceId"), edge.get("destId")
    for key, value in (("sourceId", src), ("destId", dst)):
      if value not in position:
        raise graph_lib.GraphError(f"{path}: {where}: {key} {value!r} is not a node id (dangling edge)")
    size = _number(path, where, edge, "size", default=0.0)
    cost = _number(path, where, edge, "cost")
    parsed_edges.append((position[src], position[dst], size, cost))
    out_bytes[position[src]] = max(out_bytes.get(position[src], 0.0), size)

  graph_name = name or os.path.splitext(os.path.basename(path))[0]
  builder = graph_lib.GraphBuilder(graph_name)
  for i, node_id in enumerate(order):
    node = nodes[index[node_id]]
    where = f"node id {node_id}"
    node_name = str(node.get("name", f"node{node_id}"))
    color = node.get("colorClass", -1)
    if not isinstance(color, int) or isinstance(color, bool):
      raise graph_lib.GraphError(f"{path}: {where}: colorClass {color!r} is not an integer")
    builder.add_node(
        node_name, op_type_from_name(node_name), shape=(), dtype="unknown",
        output_bytes=out_bytes.get(i, 0.0), bytes_written=out_bytes.get(i, 0.0),
        param_bytes=_number(path, where, node, "size", default=0.0), colocation=color,
        latency={"accelerator": _number(path, where, node, "fpgaLatency") * MS,
                 "cpu": _number(path, where, node, "cpuLatency") * MS},
        attrs={"supported_on_accelerator": bool(node.get("supportedOnFpga", True)),
               "is_backward": bool(node.get("isBackwardNode", False)),
               "file_id": int(node_id)})
  for src, dst, size, cost in parsed_edges:
    if src == dst:
      raise graph_lib.GraphError(f"{path}: edge {order[src]} -> {order[dst]} is a self-loop")
    builder.add_edge(src, dst, size, transfer_time=cost * MS)
  builder.meta.update({
      "source_format": "dnn-partitioning",
      "source_file": os.path.basename(path),
      "max_accelerators": int(_number(path, "header", data, "maxFPGAs")),
      "max_cpus": int(_number(path, "header", data, "maxCPUs", default=0.0)),
      "memory_per_accelerator": _number(path, "header", data, "maxSizePerFPGA"),
      "time_unit_seconds": MS,
  })
  try:
    return builder.build()
  except graph_lib.GraphError as e:
    raise graph_lib.GraphError(f"{path}: {e}") from None


def load_expert_split(path: str | os.PathLike, graph: graph_lib.ComputationGraph) -> np.ndarray:
  """Reads a human-expert split as a device id per node of ``graph``.

  Args:
    path: a ``human-experts/*_expert.json`` file.
    graph: the graph it splits (as loaded by :func:`load`).

  Returns:
    (N,) int32 device ids: accelerator ``k`` -> ``k``; CPU -> ``max_accelerators``.

  Raises:
    graph_lib.GraphError: if the split names unknown nodes, misses nodes or
      places a node twice.
  """
  path = os.fspath(path)
  data = _read_json(path)
  if not isinstance(data, dict) or "fpgas" not in data:
    raise graph_lib.GraphError(f"{path}: not an expert split (need an object with 'fpgas')")
  file_ids = graph.node_attrs.get("file_id")
  if file_ids is None:
    raise graph_lib.GraphError(f"{path}: graph {graph.name!r} was not loaded from a dnn-partitioning file")
  position = {int(f): i for i, f in enumerate(file_ids)}
  num_acc = int(graph.meta.get("max_accelerators", len(data["fpgas"])))
  devices = np.full(graph.num_nodes, -1, np.int32)
  groups = [(k, g) for k, g in enumerate(data["fpgas"])] + [(num_acc + k, g) for k, g in enumerate(data.get("cpus", []))]
  for device, group in groups:
    for node_id in group.get("nodes", []):
      if node_id not in position:
        raise graph_lib.GraphError(f"{path}: device {device} lists node id {node_id}, which is not in {graph.name!r}")
      if devices[position[node_id]] >= 0:
        raise graph_lib.GraphError(f"{path}: node id {node_id} is placed twice")
      devices[position[node_id]] = device
  if len(data["fpgas"]) > num_acc:
    raise graph_lib.GraphError(f"{path}: split uses {len(data['fpgas'])} accelerators, graph allows {num_acc}")
  missing = np.flatnonzero(devices < 0)
  if missing.size:
    raise graph_lib.GraphError(f"{path}: node id {int(file_ids[missing[0]])} is not placed "
                               f"({missing.size} nodes unplaced)")
  return devices
