"""The immutable computation graph that every GO-JAX component works on.

A :class:`ComputationGraph` is a struct of numpy arrays (one entry per node or
per edge), validated once at construction and read-only afterwards:

* nodes ``i = 0..N-1``: name, op type (:mod:`go_jax.graph.ops`), output shape
  and dtype, FLOPs, bytes read and written, output bytes, parameter bytes,
  optional measured latency per device kind (seconds), optional colocation
  group;
* edges ``k = 0..E-1``: producer ``senders[k]`` -> consumer ``receivers[k]``
  carrying ``edge_bytes[k]`` bytes, optionally with a measured transfer time.

Units: FLOPs are floating point operations (one multiply-add = 2 FLOPs), bytes
are bytes, times are seconds. Derived views (topological order, levels,
critical path, degrees) are computed lazily and cached.

Importers build graphs with :class:`GraphBuilder`, which assigns ids, maps op
names onto the vocabulary and removes duplicate edges.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from typing import Any, Mapping, Sequence

import numpy as np

from go_jax import errors
from go_jax.graph import ops

#: Shapes of rank above this are stored with their leading dims folded into one.
MAX_RANK = 8
#: Sizes above these are rejected as absurd (almost certainly a corrupt input).
MAX_NODES = 20_000_000
MAX_BYTES = float(2**50)  # 1 PiB for one tensor / one op's traffic
MAX_FLOPS = 1e21  # 1 zetta-FLOP for one op
MAX_SECONDS = 1e6  # a measured latency of more than ~11 days


class GraphError(errors.InputError):
  """An invalid graph. The message names the offending node or edge."""


def _readonly(array: np.ndarray) -> np.ndarray:
  array = np.ascontiguousarray(array)
  array.flags.writeable = False
  return array


def _fold_shape(shape: Sequence[int]) -> tuple[int, ...]:
  shape = tuple(int(d) for d in shape)
  if len(shape) > MAX_RANK:
    head = math.prod(shape[: len(shape) - MAX_RANK + 1])
    shape = (head,) + shape[len(shape) - MAX_RANK + 1 :]
  return shape


@dataclasses.dataclass(frozen=True, eq=False)
class ComputationGraph:
  """An immutable, validated computation graph (struct of arrays).

  Attributes:
    name: graph name (a workload name or the file it came from).
    node_names: (N,) tuple of str, unique not required.
    op_type: (N,) int32, index into :data:`go_jax.graph.ops.OP_TYPES`.
    dtype: (N,) int32, index into :data:`go_jax.graph.ops.DTYPES` of the output.
    rank: (N,) int32, rank of the output shape (after folding to MAX_RANK).
    dims: (N, MAX_RANK) int64, output dims, zero-padded past ``rank``.
    flops: (N,) float64, floating point operations of the op.
    bytes_read: (N,) float64, bytes the op reads (inputs, weights).
    bytes_written: (N,) float64, bytes the op writes.
    output_bytes: (N,) float64, size of the op's output tensor(s).
    param_bytes: (N,) float64, bytes of parameters resident with this op
      (weights and optimizer state it owns; counted once per graph).
    colocation: (N,) int32, colocation group id, -1 when unconstrained. Nodes
      with the same id must be placed on the same device.
    senders: (E,) int32, producer node of each edge.
    receivers: (E,) int32, consumer node of each edge.
    edge_bytes: (E,) float64, bytes carried by each edge.
    latency: measured latency per device kind, e.g. ``{"gpu": (N,) float64}``
      in seconds; NaN where a node has no measurement.
    transfer_time: optional (E,) float64, measured time (seconds) to move the
      edge's tensor between devices; NaN where unknown.
    node_attrs: extra per-node arrays from an importer (e.g. ``is_backward``).
    meta: JSON-serializable graph-level metadata (source format, ...).
  """

  name: str
  node_names: tuple[str, ...]
  op_type: np.ndarray
  dtype: np.ndarray
  rank: np.ndarray
  dims: np.ndarray
  flops: np.ndarray
  bytes_read: np.ndarray
  bytes_written: np.ndarray
  output_bytes: np.ndarray
  param_bytes: np.ndarray
  colocation: np.ndarray
  senders: np.ndarray
  receivers: np.ndarray
  edge_bytes: np.ndarray
  latency: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
  transfer_time: np.ndarray | None = None
  node_attrs: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
  meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    set_ = functools.partial(object.__setattr__, self)
    set_("node_names", tuple(str(n) for n in self.node_names))
    n = len(self.node_names)
    int_fields = {"op_type": np.int32, "dtype": np.int32, "rank": np.int32, "colocation": np.int32}
    for field, dt in int_fields.items():
      set_(field, _readonly(np.asarray(getattr(self, field), dtype=dt).reshape(-1)))
    set_("dims", _readonly(np.asarray(self.dims, dtype=np.int64).reshape(n, MAX_RANK)))
    for field in ("flops", "bytes_read", "bytes_written", "output_bytes", "param_bytes"):
      set_(field, _readonly(np.asarray(getattr(self, field), dtype=np.float64).reshape(-1)))
    set_("senders", _readonly(np.asarray(self.senders, dtype=np.int64).reshape(-1).astype(np.int32)))
    set_("receivers", _readonly(np.asarray(self.receivers, dtype=np.int64).reshape(-1).astype(np.int32)))
    set_("edge_bytes", _readonly(np.asarray(self.edge_bytes, dtype=np.float64).reshape(-1)))
    set_("latency", types.MappingProxyType(
        {str(k): _readonly(np.asarray(v, dtype=np.float64).reshape(-1)) for k, v in self.latency.items()}))
    if self.transfer_time is not None:
      set_("transfer_time", _readonly(np.asarray(self.transfer_time, dtype=np.float64).reshape(-1)))
    set_("node_attrs", types.MappingProxyType(
        {str(k): _readonly(np.asarray(v)) for k, v in self.node_attrs.items()}))
    set_("meta", types.MappingProxyType(dict(self.meta)))
    self._validate()

  # -------------------------------------------------------------------------
  # Validation.
  # -------------------------------------------------------------------------

  def _node(self, i: int) -> str:
    return f"node {int(i)} ({self.node_names[int(i)]!r})"

  def _validate(self):
    n, e = self.num_nodes, self.num_edges
    if n == 0:
      raise GraphError(f"graph {self.name!r} is empty (no nodes)")
    if n > MAX_NODES:
      raise GraphError(f"graph {self.name!r} has {n} nodes, more than the limit {MAX_NODES}")
    for field in ("op_type", "dtype", "rank", "colocation", "flops", "bytes_read", "bytes_written",
                  "output_bytes", "param_bytes"):
      if getattr(self, field).shape != (n,):
        raise GraphError(f"graph {self.name!r}: {field} has shape {getattr(self, field).shape}, "
                         f"expected ({n},)")
    for field in ("receivers", "edge_bytes"):
      if getattr(self, field).shape != (e,):
        raise GraphError(f"graph {self.name!r}: {field} has shape {getattr(self, field).shape}, "
                         f"expected ({e},) like senders")
    bad = np.flatnonzero((self.op_type < 0) | (self.op_type >= ops.NUM_OP_TYPES))
    if bad.size:
      raise GraphError(f"{self._node(bad[0])}: op type id {self.op_type[bad[0]]} out of range")
    bad = np.flatnonzero((self.dtype < 0) | (self.dtype >= len(ops.DTYPES)))
    if bad.size:
      raise GraphError(f"{self._node(bad[0])}: dtype id {self.dtype[bad[0]]} out of range")
    bad = np.flatnonzero((self.rank < 0) | (self.rank > MAX_RANK))
    if bad.size:
      raise GraphError(f"{self._node(bad[0])}: rank {self.rank[bad[0]]} out of range")
    bad = np.flatnonzero((self.dims < 0).any(axis=1))
    if bad.size:
      raise GraphError(f"{self._node(bad[0])}: negative dimension in shape {self.dims[bad[0]].tolist()}")
    limits = {"flops": MAX_FLOPS, "bytes_read": MAX_BYTES, "bytes_written": MAX_BYTES,
              "output_bytes": MAX_BYTES, "param_bytes": MAX_BYTES}
    for field, limit in limits.items():
      values = getattr(self, field)
      bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
      if bad.size:
        raise GraphError(f"{self._node(bad[0])}: {field} is {values[bad[0]]} "
                         "(must be finite and >= 0)")
      bad = np.flatnonzero(values > limit)
      if bad.size:
        raise GraphError(f"{self._node(bad[0])}: {field} is {values[bad[0]]:.4g}, "
                         f"absurdly large (limit {limit:.3g})")
    for kind, values in self.latency.items():
      if values.shape != (n,):
        raise GraphError(f"graph {self.name!r}: latency[{kind!r}] has shape {values.shape}, expected ({n},)")
      bad = np.flatnonzero(~np.isnan(values) & (~np.isfinite(values) | (values < 0) | (values > MAX_SECONDS)))
      if bad.size:
        raise GraphError(f"{self._node(bad[0])}: measured latency[{kind!r}] is {values[bad[0]]} "
                         "(must be NaN, or finite, >= 0 and plausible)")
    for key, values in self.node_attrs.items():
      if values.shape[:1] != (n,):
        raise GraphError(f"graph {self.name!r}: node attribute {key!r} has shape {values.shape}, "
                         f"expected ({n}, ...)")
    bad = np.flatnonzero((self.senders < 0) | (self.senders >= n))
    if bad.size:
      raise GraphError(f"edge {bad[0]}: producer id {self.senders[bad[0]]} out of range 0..{n - 1}")
    bad = np.flatnonzero((self.receivers < 0) | (self.receivers >= n))
    if bad.size:
      raise GraphError(f"edge {bad[0]}: consumer id {self.receivers[bad[0]]} out of range 0..{n - 1}")
    bad = np.flatnonzero(self.senders == self.receivers)
    if bad.size:
      raise GraphError(f"edge {bad[0]}: self-loop on {self._node(self.senders[bad[0]])}")
    bad = np.flatnonzero(~np.isfinite(self.edge_bytes) | (self.edge_bytes < 0) | (self.edge_bytes > MAX_BYTES))
    if bad.size:
      k = bad[0]
      raise GraphError(f"edge {k} ({self._node(self.senders[k])} -> {self._node(self.receivers[k])}): "
                       f"bytes is {self.edge_bytes[k]} (must be finite, >= 0 and plausible)")
    if self.transfer_time is not None:
      if self.transfer_time.shape != (e,):
        raise GraphError(f"graph {self.name!r}: transfer_time has shape {self.transfer_time.shape}, expected ({e},)")
      tt = self.transfer_time
      bad = np.flatnonzero(~np.isnan(tt) & (~np.isfinite(tt) | (tt < 0) | (tt > MAX_SECONDS)))
      if bad.size:
        raise GraphError(f"edge {bad[0]}: measured transfer time {tt[bad[0]]} is invalid")
    # Acyclicity: computing levels raises GraphError on a cycle.
    _ = self.levels

  # -------------------------------------------------------------------------
  # Sizes and per-node accessors.
  # -------------------------------------------------------------------------

  @property
  def num_nodes(self) -> int:
    return len(self.node_names)

  @property
  def num_edges(self) -> int:
    return int(self.senders.shape[0])

  def shape(self, i: int) -> tuple[int, ...]:
    """Output shape of node ``i`` (leading dims folded beyond MAX_RANK)."""
    return tuple(int(d) for d in self.dims[i, : self.rank[i]])

  def op_type_name(self, i: int) -> str:
    return ops.OP_TYPES[int(self.op_type[i])]

  def dtype_name(self, i: int) -> str:
    return ops.DTYPES[int(self.dtype[i])]

  @functools.cached_property
  def op_class(self) -> np.ndarray:
    """(N,) int32 op class id (index into :data:`ops.OP_CLASSES`)."""
    return _readonly(np.asarray(ops.OP_CLASS_OF_TYPE_ID, np.int32)[self.op_type])

  @property
  def bytes_accessed(self) -> np.ndarray:
    """(N,) float64 bytes read plus bytes written (the roofline's memory traffic)."""
    return self.bytes_read + self.bytes_written

  # -------------------------------------------------------------------------
  # Derived views.
  # -------------------------------------------------------------------------

  @functools.cached_property
  def in_degree(self) -> np.ndarray:
    """(N,) int32 number of producers of each node."""
    return _readonly(np.bincount(self.receivers, minlength=self.num_nodes).astype(np.int32))

  @functools.cached_property
  def out_degree(self) -> np.ndarray:
    """(N,) int32 number of consumers of each node."""
    return _readonly(np.bincount(self.senders, minlength=self.num_nodes).astype(np.int32))

  @functools.cached_property
  def _out_csr(self) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(self.senders, kind="stable")
    offsets = np.zeros(self.num_nodes + 1, np.int64)
    np.cumsum(np.bincount(self.senders, minlength=self.num_nodes), out=offsets[1:])
    return offsets, order

  @functools.cached_property
  def _in_csr(self) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(self.receivers, kind="stable")
    offsets = np.zeros(self.num_nodes + 1, np.int64)
    np.cumsum(np.bincount(self.receivers, minlength=self.num_nodes), out=offsets[1:])
    return offsets, order

  def consumers(self, i: int) -> np.ndarray:
    """Consumer node ids of node ``i`` (in edge order)."""
    offsets, order = self._out_csr
    return self.receivers[order[offsets[i] : offsets[i + 1]]]

  def producers(self, i: int) -> np.ndarray:
    """Producer node ids of node ``i`` (in edge order)."""
    offsets, order = self._in_csr
    return self.senders[order[offsets[i] : offsets[i + 1]]]

  def out_edges(self, i: int) -> np.ndarray:
    """Edge ids leaving node ``i``."""
    offsets, order = self._out_csr
    return order[offsets[i] : offsets[i + 1]]

  def in_edges(self, i: int) -> np.ndarray:
    """Edge ids entering node ``i``."""
    offsets, order = self._in_csr
    return order[offsets[i] : offsets[i + 1]]

  @functools.cached_property
  def levels(self) -> np.ndarray:
    """(N,) int32 longest-path depth: 0 for sources, 1 + max(producer levels).

    Raises:
      GraphError: if the graph has a cycle (naming a node on it).
    """
    n = self.num_nodes
    remaining = self.in_degree.astype(np.int64).copy()
    level = np.full(n, -1, np.int32)
    frontier = np.flatnonzero(remaining == 0)
    offsets, order = self._out_csr
    depth = 0
    done = 0
    while frontier.size:
      level[frontier] = depth
      done += frontier.size
      # All out-edges of the frontier, vectorized via CSR offsets.
      starts, stops = offsets[frontier], offsets[frontier + 1]
      counts = stops - starts
      if counts.sum() == 0:
        break
      idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
      targets = self.receivers[order[idx]]
      np.subtract.at(remaining, targets, 1)
      candidates = np.unique(targets)
      frontier = candidates[remaining[candidates] == 0]
      depth += 1
    if done != n:
      self._raise_cycle(level)
    return _readonly(level)

  def _raise_cycle(self, level: np.ndarray):
    # Every unlevelled node has an unlevelled producer; walking producers back
    # from one must revisit a node, which lies on a cycle.
    start = int(np.flatnonzero(level < 0)[0])
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node not in seen:
      seen[node] = len(path)
      path.append(node)
      preds = [p for p in self.producers(node) if level[p] < 0]
      node = int(preds[0])
    cycle = path[seen[node]:][::-1]
    names = " -> ".join(self._node(c) for c in cycle[:6])
    more = " -> ..." if len(cycle) > 6 else f" -> {self._node(cycle[0])}"
    raise GraphError(f"graph {self.name!r} has a cycle through {names}{more}")

  @functools.cached_property
  def depth(self) -> int:
    """Number of levels (1 + the largest level)."""
    return int(self.levels.max()) + 1

  @functools.cached_property
  def topological_order(self) -> np.ndarray:
    """(N,) int32 node ids sorted by (level, node id): a deterministic topological order."""
    return _readonly(np.lexsort((np.arange(self.num_nodes), self.levels)).astype(np.int32))

  def critical_path(self, node_time: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Longest path through the graph, weighting each node by ``node_time``.

    Args:
      node_time: (N,) float, per-node weight (e.g. seconds on one device).
        Defaults to the FLOPs of each node.

    Returns:
      ``(length, path)``: the summed weight of the heaviest source-to-sink path
      and its node ids in order (ties broken towards lower node ids).
    """
    weight = self.flops if node_time is None else np.asarray(node_time, np.float64)
    if weight.shape != (self.num_nodes,):
      raise ValueError(f"node_time must have shape ({self.num_nodes},), got {weight.shape}")
    finish = weight.copy()
    best_pred = np.full(self.num_nodes, -1, np.int64)
    # Process edges grouped by the level of their consumer: every producer of a
    # level-l node has level < l, so its finish time is final by then.
    edge_level = self.levels[self.receivers]
    edge_order = np.lexsort((self.senders, edge_level))
    level_bounds = np.searchsorted(edge_level[edge_order], np.arange(self.depth + 1))
    for lvl in range(1, self.depth):
      edges = edge_order[level_bounds[lvl] : level_bounds[lvl + 1]]
      if edges.size == 0:
        continue
      src, dst = self.senders[edges], self.receivers[edges]
      targets, slot = np.unique(dst, return_inverse=True)
      arrival = np.full(targets.size, -np.inf)
      np.maximum.at(arrival, slot, finish[src])
      finish[targets] = weight[targets] + arrival
      # Lowest-id producer achieving the max: edges are sorted by sender within
      # a level, so the first hit per consumer is the lowest id.
      hit = np.flatnonzero(finish[src] == arrival[slot])
      hit_dst, first = np.unique(dst[hit], return_index=True)
      best_pred[hit_dst] = src[hit[first]]
    end = int(np.argmax(finish))
    path = [end]
    while best_pred[path[-1]] >= 0:
      path.append(int(best_pred[path[-1]]))
    return float(finish[end]), np.asarray(path[::-1], np.int32)

  # -------------------------------------------------------------------------
  # Summaries.
  # -------------------------------------------------------------------------

  def op_histogram(self) -> dict[str, int]:
    """Number of nodes per op type name, most frequent first."""
    counts = np.bincount(self.op_type, minlength=ops.NUM_OP_TYPES)
    pairs = [(ops.OP_TYPES[i], int(c)) for i, c in enumerate(counts) if c]
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))

  def summary(self) -> dict[str, Any]:
    """A JSON-serializable summary (what ``experiments.graphs`` prints)."""
    cp_flops, cp_path = self.critical_path()
    out = {
        "name": self.name,
        "nodes": self.num_nodes,
        "edges": self.num_edges,
        "depth": self.depth,
        "flops": float(self.flops.sum()),
        "bytes_accessed": float(self.bytes_accessed.sum()),
        "output_bytes": float(self.output_bytes.sum()),
        "edge_bytes": float(self.edge_bytes.sum()),
        "param_bytes": float(self.param_bytes.sum()),
        "critical_path_flops": cp_flops,
        "critical_path_nodes": int(cp_path.size),
        "op_types": self.op_histogram(),
        "colocation_groups": int(np.unique(self.colocation[self.colocation >= 0]).size),
        "measured_latency": sorted(self.latency),
    }
    for kind, values in self.latency.items():
      known = np.nan_to_num(values, nan=0.0)
      cp_time, _ = self.critical_path(known)
      out[f"latency_{kind}_total_s"] = float(known.sum())
      out[f"critical_path_{kind}_s"] = cp_time
    if self.meta:
      out["meta"] = dict(self.meta)
    return out


class GraphBuilder:
  """Accumulates nodes and edges, then builds a validated :class:`ComputationGraph`.

  Unknown op type names map to ``"other"`` and are reported once each through
  ``warn`` (default: ``absl.logging.warning``).
  """

  def __init__(self, name: str, warn=None):
    self.name = name
    self._warn = warn
    self._unknown: set[str] = set()
    self._nodes: list[tuple] = []
    self._latency: dict[str, dict[int, float]] = {}
    self._attrs: dict[str, dict[int, Any]] = {}
    self._edges: dict[tuple[int, int], float] = {}
    self._transfer: dict[tuple[int, int], float] = {}
    self.meta: dict[str, Any] = {}

  @property
  def num_nodes(self) -> int:
    return len(self._nodes)

  def add_node(self, name: str, op_type: str, *, shape: Sequence[int] = (), dtype: str = "f32",
               flops: float = 0.0, bytes_read: float = 0.0, bytes_written: float | None = None,
               output_bytes: float | None = None, param_bytes: float = 0.0,
               colocation: int = -1, latency: Mapping[str, float] | None = None,
               attrs: Mapping[str, Any] | None = None) -> int:
    """Adds a node and returns its id.

    ``output_bytes`` defaults to ``prod(shape) * itemsize(dtype)`` and
    ``bytes_written`` to ``output_bytes``.
    """
    if op_type not in ops.OP_TYPE_ID:
      if op_type not in self._unknown:
        self._unknown.add(op_type)
        message = f"{self.name}: unknown op {op_type!r} (first at node {name!r}) mapped to 'other'"
        if self._warn is not None:
          self._warn(message)
        else:
          from absl import logging  # pylint: disable=g-import-not-at-top
          logging.warning(message)
      op_type = "other"
    dtype = ops.dtype_name(dtype)
    shape = _fold_shape(shape)
    if output_bytes is None:
      output_bytes = float(math.prod(shape)) * ops.DTYPE_BYTES[dtype]
    if bytes_written is None:
      bytes_written = output_bytes
    node_id = len(self._nodes)
    self._nodes.append((str(name), ops.OP_TYPE_ID[op_type], ops.DTYPE_ID[dtype], shape, float(flops),
                        float(bytes_read), float(bytes_written), float(output_bytes),
                        float(param_bytes), int(colocation)))
    for kind, value in (latency or {}).items():
      self._latency.setdefault(kind, {})[node_id] = float(value)
    for key, value in (attrs or {}).items():
      self._attrs.setdefault(key, {})[node_id] = value
    return node_id

  def add_edge(self, producer: int, consumer: int, num_bytes: float, transfer_time: float | None = None):
    """Adds edge producer -> consumer; a repeated pair keeps the larger byte count."""
    key = (int(producer), int(consumer))
    self._edges[key] = max(float(num_bytes), self._edges.get(key, 0.0))
    if transfer_time is not None:
      self._transfer[key] = float(transfer_time)

  def build(self) -> ComputationGraph:
    n = len(self._nodes)
    names, op_type, dtype, shapes, flops, b_read, b_written, out_bytes, params, coloc = (
        zip(*self._nodes) if n else ((),) * 10)
    dims = np.zeros((n, MAX_RANK), np.int64)
    rank = np.zeros(n, np.int32)
    for i, s in enumerate(shapes):
      rank[i] = len(s)
      dims[i, : len(s)] = s
    pairs = list(self._edges)
    senders = np.asarray([p for p, _ in pairs], np.int64)
    receivers = np.asarray([c for _, c in pairs], np.int64)
    latency = {}
    for kind, values in self._latency.items():
      arr = np.full(n, np.nan)
      arr[list(values)] = list(values.values())
      latency[kind] = arr
    attrs = {}
    for key, values in self._attrs.items():
      sample = next(iter(values.values()))
      fill = np.nan if isinstance(sample, float) else 0
      arr = np.full(n, fill, dtype=np.asarray(sample).dtype if fill == 0 else np.float64)
      arr[list(values)] = list(values.values())
      attrs[key] = arr
    transfer = None
    if self._transfer:
      transfer = np.asarray([self._transfer.get(p, np.nan) for p in pairs], np.float64)
    return ComputationGraph(
        name=self.name, node_names=names, op_type=np.asarray(op_type, np.int32),
        dtype=np.asarray(dtype, np.int32), rank=rank, dims=dims, flops=np.asarray(flops, np.float64),
        bytes_read=np.asarray(b_read, np.float64), bytes_written=np.asarray(b_written, np.float64),
        output_bytes=np.asarray(out_bytes, np.float64), param_bytes=np.asarray(params, np.float64),
        colocation=np.asarray(coloc, np.int32), senders=senders, receivers=receivers,
        edge_bytes=np.asarray([self._edges[p] for p in pairs], np.float64), latency=latency,
        transfer_time=transfer, node_attrs=attrs, meta=self.meta)
