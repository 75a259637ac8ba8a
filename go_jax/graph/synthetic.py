"""Synthetic training-step graphs of realistic shape and cost, for GO pretraining.

:func:`generate` draws one seeded, reproducible :class:`~go_jax.graph.graph.ComputationGraph`
(built with :class:`~go_jax.graph.graph.GraphBuilder`, so it is validated like
any imported graph) of about ``num_nodes`` nodes (200 to 20,000) from one of four
shape families (:data:`FAMILIES`):

* ``layered``: a deep chain of layers (MLP / plain CNN): contraction, bias,
  optional normalisation, activation, optional reshape;
* ``branching``: Inception-like blocks of 2-4 parallel branches of 1-3 layers
  joined by a concatenation;
* ``residual``: ResNet / Transformer-like blocks of two layers plus a skip
  connection and a normalisation;
* ``recurrent``: an unrolled multi-layer LSTM (``layers x steps`` cells, shared
  weights per layer, per-step output projection and loss).

Every family is a *training step*, like the workload zoo's graphs: the forward
pass, then a mirrored backward pass (one gradient node per forward op, fed by
its consumers' gradients and by its forward inputs, which makes the long-range
activation edges of real training graphs; a weight-gradient contraction per
weight use) and an optimizer update per parameter (Adam-like: two slot
parameters and an update op, its slots colocated with the parameter as the zoo does).

Op types and costs come from :class:`OpStatistics`, measured on the zoo
(:func:`measure_statistics`; the cached result ships as
``synthetic_stats.json`` beside this module and is rebuilt with
``python -m go_jax.graph.synthetic [OUT.json]``, which traces or loads every
zoo workload). Each structural *role* (source, contraction, elementwise,
reduction, data movement) picks an op type with the zoo's frequencies within
that op class, and each node draws its output bytes, FLOPs and bytes read
from that op type's empirical quantiles with one shared uniform ``u`` per
node (so big tensors have big FLOPs, as in real graphs). ``u`` is drawn per
layer, plus noise, so the ops of one layer have related sizes.

This differs from :mod:`go_jax.models.synthetic_graphs`, which makes random
DAGs for benchmarking the networks' speed and is not meant to look like a
model.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import sys
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from go_jax.graph import graph as graph_lib
from go_jax.graph import ops

FAMILIES = ("layered", "branching", "residual", "recurrent")
ROLES = ("source", "contraction", "elementwise", "reduction", "data_movement")
#: Quantile levels stored per op type and cost field.
QUANTILES = tuple(np.linspace(0.0, 1.0, 21).round(3).tolist())
COST_FIELDS = ("output_bytes", "flops", "bytes_read")
STATS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic_stats.json")
MIN_NODES, MAX_NODES = 50, 200_000

# Zoo op classes that a role draws op types from ("other" class ops are folded into elementwise).
_ROLE_CLASSES = {"source": ("source",), "contraction": ("contraction",), "elementwise": ("elementwise",),
                 "reduction": ("reduction",), "data_movement": ("data_movement",)}


@dataclasses.dataclass(frozen=True)
class OpTypeStats:
  """Measured statistics of one op type across the zoo.

  Attributes:
    count: nodes of this type in the measured graphs.
    quantiles: field -> (len(QUANTILES),) quantiles of ``log1p(value)``
      (values in bytes or FLOPs), for each of :data:`COST_FIELDS`.
    rank_probs: (MAX_RANK + 1,) probability of each output rank.
    dtype: most common output dtype name.
  """

  count: int
  quantiles: Mapping[str, tuple[float, ...]]
  rank_probs: tuple[float, ...]
  dtype: str


@dataclasses.dataclass(frozen=True)
class OpStatistics:
  """Op mix and cost distributions of a set of graphs (JSON round-trips via to/from_dict).

  Attributes:
    op_types: op type name -> :class:`OpTypeStats`.
    sources: names of the measured graphs.
  """

  op_types: Mapping[str, OpTypeStats]
  sources: tuple[str, ...]

  def to_dict(self) -> dict[str, Any]:
    return {"quantile_levels": list(QUANTILES), "sources": list(self.sources),
            "op_types": {name: {"count": s.count, "quantiles": {k: list(v) for k, v in s.quantiles.items()},
                                "rank_probs": list(s.rank_probs), "dtype": s.dtype}
                         for name, s in self.op_types.items()}}

  @classmethod
  def from_dict(cls, raw: Mapping[str, Any]) -> "OpStatistics":
    if list(raw.get("quantile_levels", [])) != list(QUANTILES):
      raise ValueError("synthetic statistics were written with other quantile levels; regenerate them")
    op_types = {}
    for name, s in raw["op_types"].items():
      if name not in ops.OP_TYPE_ID:
        raise ValueError(f"synthetic statistics name an unknown op type {name!r}")
      op_types[name] = OpTypeStats(int(s["count"]), {k: tuple(float(x) for x in v) for k, v in s["quantiles"].items()},
                                   tuple(float(p) for p in s["rank_probs"]), str(s["dtype"]))
    return cls(op_types, tuple(raw.get("sources", ())))

  def role_mix(self, role: str) -> tuple[list[str], np.ndarray]:
    """Op type names a role can take and their probabilities (zoo frequencies within the class)."""
    return _role_mix(self, role)


def _role_mix(stats: OpStatistics, role: str) -> tuple[list[str], np.ndarray]:
  classes = _ROLE_CLASSES[role]
  names = [n for n, s in stats.op_types.items()
           if ops.op_class(n) in classes and n not in ("parameter", "rng")]
  if not names:  # statistics without this class: the plainest op of the role
    names = [{"source": "constant", "contraction": "dot", "elementwise": "elementwise",
              "reduction": "reduce", "data_movement": "reshape"}[role]]
    return names, np.ones(1)
  counts = np.asarray([stats.op_types[n].count for n in names], np.float64)
  return names, counts / counts.sum()


def measure_statistics(graphs: Sequence[graph_lib.ComputationGraph]) -> OpStatistics:
  """Op type frequencies and log-cost quantiles of ``graphs`` (pooled over all their nodes)."""
  if not graphs:
    raise ValueError("measure_statistics needs at least one graph")
  op_type = np.concatenate([g.op_type for g in graphs])
  rank = np.concatenate([g.rank for g in graphs])
  dtype = np.concatenate([g.dtype for g in graphs])
  values = {f: np.log1p(np.concatenate([getattr(g, f) for g in graphs])) for f in COST_FIELDS}
  out = {}
  for type_id in np.unique(op_type):
    mask = op_type == type_id
    quantiles = {f: tuple(np.quantile(values[f][mask], QUANTILES).round(4).tolist()) for f in COST_FIELDS}
    ranks = np.bincount(rank[mask], minlength=graph_lib.MAX_RANK + 1).astype(np.float64)
    out[ops.OP_TYPES[type_id]] = OpTypeStats(
        int(mask.sum()), quantiles, tuple((ranks / ranks.sum()).round(5).tolist()),
        ops.DTYPES[int(np.bincount(dtype[mask]).argmax())])
  return OpStatistics(out, tuple(g.name for g in graphs))


@functools.lru_cache(maxsize=1)
def default_statistics() -> OpStatistics:
  """The zoo statistics shipped in ``synthetic_stats.json``."""
  with open(STATS_PATH) as f:
    return OpStatistics.from_dict(json.load(f))


# ---------------------------------------------------------------------------
# Structure: a forward pass of abstract nodes (role, size quantile), then backward + optimizer.
# ---------------------------------------------------------------------------


class _Sketch:
  """Abstract nodes (role, size quantile ``u``, kind) and edges, grown family by family."""

  def __init__(self, rng: np.random.Generator):
    self.rng = rng
    self.role: list[str] = []
    self.u: list[float] = []
    self.kind: list[str] = []  # "fwd", "input", "param", "grad", "wgrad", "slot", "update"
    self.group: list[int] = []  # colocation group (params and their optimizer nodes), -1 otherwise
    self.edges: list[tuple[int, int]] = []
    self.weight_of: dict[int, int] = {}  # forward contraction -> its weight parameter

  def __len__(self) -> int:
    return len(self.role)

  def node(self, role: str, inputs: Sequence[int], u: float, kind: str = "fwd", group: int = -1) -> int:
    node_id = len(self.role)
    self.role.append(role)
    self.u.append(float(np.clip(u + self.rng.normal(0.0, 0.04), 0.0, 1.0)))
    self.kind.append(kind)
    self.group.append(group)
    self.edges.extend((int(i), node_id) for i in inputs)
    return node_id

  def param(self, u: float) -> int:
    return self.node("source", (), u, "param")

  def layer(self, x: int, u: float, norm: float = 0.3, reshape: float = 0.2) -> int:
    """contraction(x, W) -> bias add -> [normalisation] -> activation -> [reshape]."""
    weight = self.param(u - 0.2)
    h = self.node("contraction", (x, weight), u)
    self.weight_of[h] = weight
    bias = (self.param(u - 0.4),) if self.rng.random() < 0.5 else ()
    h = self.node("elementwise", (h,) + bias, u)
    if self.rng.random() < norm:
      h = self.node("reduction", (h,), u)
      h = self.node("elementwise", (h, self.param(u - 0.4)), u)
    h = self.node("elementwise", (h,), u)
    if self.rng.random() < reshape:
      h = self.node("data_movement", (h,), u)
    return h

  def head(self, x: int, u: float) -> int:
    """Output projection, softmax-like reduction and a scalar loss."""
    logits = self.layer(x, u, norm=0.0, reshape=0.0)
    probs = self.node("reduction", (logits,), u)
    return self.node("reduction", (probs, self.node("source", (), u - 0.3, "input")), 0.05)


def _u(rng: np.random.Generator) -> float:
  return float(rng.uniform(0.35, 0.95))


def _layered(sketch: _Sketch, forward_nodes: int) -> int:
  rng = sketch.rng
  x = sketch.node("source", (), _u(rng), "input")
  while len(sketch) < forward_nodes:
    x = sketch.layer(x, _u(rng))
  return sketch.head(x, _u(rng))


def _branching(sketch: _Sketch, forward_nodes: int) -> int:
  rng = sketch.rng
  x = sketch.layer(sketch.node("source", (), _u(rng), "input"), _u(rng))
  while len(sketch) < forward_nodes:
    u = _u(rng)
    outs = []
    for _ in range(int(rng.integers(2, 5))):
      h = x
      for _ in range(int(rng.integers(1, 4))):
        h = sketch.layer(h, u + rng.normal(0, 0.05), norm=0.6)
      if rng.random() < 0.3:  # a pooling branch
        h = sketch.node("reduction", (h,), u)
      outs.append(h)
    x = sketch.node("data_movement", outs, u)
  return sketch.head(x, _u(rng))


def _residual(sketch: _Sketch, forward_nodes: int) -> int:
  rng = sketch.rng
  u = _u(rng)
  x = sketch.layer(sketch.node("source", (), u, "input"), u)
  while len(sketch) < forward_nodes:
    if rng.random() < 0.15:  # a stage change: new tensor sizes
      u = _u(rng)
    h = sketch.layer(x, u, norm=0.7)
    h = sketch.layer(h, u, norm=0.0)
    x = sketch.node("elementwise", (x, h), u)  # the skip connection
    x = sketch.node("reduction", (x,), u)  # normalisation
    x = sketch.node("elementwise", (x, sketch.param(u - 0.4)), u)
  return sketch.head(x, _u(rng))


def _recurrent(sketch: _Sketch, forward_nodes: int) -> int:
  rng = sketch.rng
  num_layers = int(rng.integers(1, 5))
  cell_nodes = 14  # per cell below, including the per-step input and output nodes shared out
  steps = max(2, forward_nodes // (num_layers * cell_nodes + 8))
  u = _u(rng)
  embedding = sketch.param(u)
  weights = [(sketch.param(u - 0.1), sketch.param(u - 0.1), sketch.param(u - 0.4)) for _ in range(num_layers)]
  hidden = [sketch.node("source", (), u - 0.2, "input") for _ in range(num_layers)]
  memory = [sketch.node("source", (), u - 0.2, "input") for _ in range(num_layers)]
  losses = []
  for _ in range(steps):
    tokens = sketch.node("source", (), 0.1, "input")
    x = sketch.node("data_movement", (embedding, tokens), u)  # embedding gather
    for layer in range(num_layers):
      w_in, w_rec, bias = weights[layer]
      a = sketch.node("contraction", (x, w_in), u)
      sketch.weight_of[a] = w_in
      b = sketch.node("contraction", (hidden[layer], w_rec), u)
      sketch.weight_of[b] = w_rec
      z = sketch.node("elementwise", (a, b, bias), u)
      gates = [sketch.node("data_movement", (z,), u - 0.05) for _ in range(4)]
      act = [sketch.node("elementwise", (g,), u - 0.05) for g in gates]
      c = sketch.node("elementwise", (act[0], act[1], memory[layer]), u - 0.05)
      h = sketch.node("elementwise", (c, act[3]), u - 0.05)
      memory[layer], hidden[layer] = c, h
      x = h
    if rng.random() < 0.5 or not losses:
      losses.append(sketch.head(x, u))
  return sketch.node("reduction", losses, 0.02) if len(losses) > 1 else losses[0]


_FAMILY_BUILDERS = {"layered": _layered, "branching": _branching, "residual": _residual,
                    "recurrent": _recurrent}


def _add_backward(sketch: _Sketch, loss: int) -> None:
  """Appends the backward pass and the optimizer update (module docstring)."""
  num_forward = len(sketch)
  consumers: list[list[int]] = [[] for _ in range(num_forward)]
  producers: list[list[int]] = [[] for _ in range(num_forward)]
  for p, c in sketch.edges:
    consumers[p].append(c)
    producers[c].append(p)
  # Forward ops that influence the loss (ids are topological: producers have smaller ids).
  on_path = np.zeros(num_forward, bool)
  on_path[loss] = True
  for node in range(loss, -1, -1):
    if on_path[node]:
      on_path[producers[node]] = True
  grad: dict[int, int] = {}
  param_grads: dict[int, list[int]] = {}
  for node in range(loss, -1, -1):
    if not on_path[node] or sketch.kind[node] != "fwd":
      continue
    upstream = [grad[c] for c in consumers[node] if c in grad]
    # The gradient of an op needs its forward inputs (activations) when it is not linear in them.
    saved = [p for p in producers[node] if sketch.kind[p] in ("fwd", "input")
             and sketch.role[node] in ("contraction", "reduction", "elementwise")]
    role = "elementwise" if sketch.role[node] == "reduction" else sketch.role[node]
    g = sketch.node(role, upstream + saved[:2], sketch.u[node], "grad")
    grad[node] = g
    weight = sketch.weight_of.get(node)
    if weight is not None:  # dW = x^T dY: a second contraction
      activation = [p for p in producers[node] if p != weight][:1]
      param_grads.setdefault(weight, []).append(sketch.node("contraction", [g] + activation, sketch.u[weight],
                                                            "wgrad"))
    for p in producers[node]:
      if sketch.kind[p] == "param" and p != weight:
        param_grads.setdefault(p, []).append(g)
  for group, (param, grads) in enumerate(sorted(param_grads.items())):
    u = sketch.u[param]
    sketch.group[param] = group
    total = grads[0] if len(grads) == 1 else sketch.node("elementwise", grads, u, "grad")
    slots = [sketch.node("source", (), u, "slot", group) for _ in range(2)]
    moments = [sketch.node("elementwise", (slot, total), u, "update") for slot in slots]
    sketch.node("elementwise", [param] + moments, u, "update")


# ---------------------------------------------------------------------------
# Costs: op types and sizes from the statistics, then a GraphBuilder graph.
# ---------------------------------------------------------------------------


def _inverse_cdf(quantiles: Sequence[float], u: np.ndarray) -> np.ndarray:
  return np.interp(u, QUANTILES, quantiles)


def _shape(rng: np.random.Generator, elements: float, rank: int) -> tuple[int, ...]:
  """A shape of ``rank`` power-of-two dims whose product is ``elements`` rounded to a power of two."""
  if rank == 0:
    return ()
  exponent = int(round(math.log2(max(elements, 1.0))))
  cuts = np.sort(rng.integers(0, exponent + 1, rank - 1)) if rank > 1 else np.zeros(0, np.int64)
  parts = np.diff(np.concatenate([[0], cuts, [exponent]]))
  return tuple(int(2 ** p) for p in sorted(parts))  # the largest dim last, as in most layouts


def _build(sketch: _Sketch, name: str, family: str, seed: int, stats: OpStatistics) -> graph_lib.ComputationGraph:
  rng = sketch.rng
  n = len(sketch)
  u = np.asarray(sketch.u)
  roles = np.asarray(sketch.role)
  op_names = np.empty(n, object)
  for role in ROLES:
    idx = np.flatnonzero(roles == role)
    names, probs = stats.role_mix(role)
    op_names[idx] = np.asarray(names, object)[rng.choice(len(names), idx.size, p=probs)] if idx.size else []
  kinds = np.asarray(sketch.kind)
  # Weights, optimizer slots and step inputs are parameters of the step, as in the zoo.
  op_names[np.isin(kinds, ("param", "slot", "input"))] = "parameter"
  builder = graph_lib.GraphBuilder(name)
  builder.meta.update({"source_format": "synthetic", "family": family, "seed": int(seed)})
  costs = {}
  for field in COST_FIELDS:
    costs[field] = np.zeros(n)
  ranks = np.zeros(n, np.int64)
  dtypes = np.empty(n, object)
  for op_name in np.unique(op_names):
    idx = np.flatnonzero(op_names == op_name)
    type_stats = stats.op_types.get(op_name)
    if type_stats is None:  # an op type the statistics never saw: borrow elementwise's costs
      type_stats = stats.op_types.get("elementwise") or next(iter(stats.op_types.values()))
    for field in COST_FIELDS:
      costs[field][idx] = np.expm1(_inverse_cdf(type_stats.quantiles[field], u[idx]))
    ranks[idx] = rng.choice(len(type_stats.rank_probs), idx.size, p=np.asarray(type_stats.rank_probs)
                            / np.sum(type_stats.rank_probs))
    dtypes[idx] = type_stats.dtype
  for i in range(n):
    dtype = ops.dtype_name(dtypes[i])
    itemsize = max(ops.DTYPE_BYTES[dtype], 1)
    shape = _shape(rng, costs["output_bytes"][i] / itemsize, int(ranks[i]))
    output_bytes = float(math.prod(shape)) * itemsize
    is_param = sketch.kind[i] in ("param", "slot")
    builder.add_node(f"{sketch.kind[i]}/{op_names[i]}_{i}", op_names[i], shape=shape, dtype=dtype,
                     flops=0.0 if is_param else costs["flops"][i],
                     bytes_read=0.0 if is_param else costs["bytes_read"][i],
                     output_bytes=output_bytes, param_bytes=output_bytes if is_param else 0.0,
                     colocation=sketch.group[i])
  output_bytes = [node[7] for node in builder._nodes]  # pylint: disable=protected-access
  for producer, consumer in sketch.edges:
    builder.add_edge(producer, consumer, output_bytes[producer])
  return builder.build()


def _forward_target(family: str, num_nodes: int) -> int:
  """Forward-pass size that makes a training graph of about ``num_nodes`` nodes (measured ratios)."""
  ratio = {"layered": 3.6, "branching": 3.6, "residual": 3.6, "recurrent": 1.95}[family]
  return max(12, int(num_nodes / ratio))


def generate(seed: int, num_nodes: int = 1000, family: str | None = None,
             stats: OpStatistics | None = None, name: str | None = None) -> graph_lib.ComputationGraph:
  """One synthetic training-step graph (module docstring); same arguments, same graph.

  Args:
    seed: numpy seed; it also picks the family when ``family`` is None.
    num_nodes: approximate node count N, between :data:`MIN_NODES` and
      :data:`MAX_NODES`; the result is within about 15% of it for N >= 1000
      and within 50% below (a recurrent graph has at least two steps).
    family: one of :data:`FAMILIES`, or None for a seeded random one.
    stats: op statistics (default: the zoo's, :func:`default_statistics`).
    name: graph name (default ``synthetic_<family>_<N>_<seed>``).

  Returns:
    A validated ComputationGraph with ``meta`` ``source_format="synthetic"``,
    ``family`` and ``seed``; node ids are a topological order.

  Raises:
    ValueError: for an unknown family or a size out of range.
  """
  if not MIN_NODES <= int(num_nodes) <= MAX_NODES:
    raise ValueError(f"num_nodes must be in [{MIN_NODES}, {MAX_NODES}], got {num_nodes}")
  rng = np.random.default_rng([int(seed), int(num_nodes)])
  family = FAMILIES[int(rng.integers(len(FAMILIES)))] if family is None else family
  if family not in _FAMILY_BUILDERS:
    raise ValueError(f"unknown synthetic family {family!r}; valid: {', '.join(FAMILIES)}")
  stats = default_statistics() if stats is None else stats
  sketch = _Sketch(rng)
  loss = _FAMILY_BUILDERS[family](sketch, _forward_target(family, int(num_nodes)))
  _add_backward(sketch, loss)
  return _build(sketch, name or f"synthetic_{family}_{int(num_nodes)}_{int(seed)}", family, seed, stats)


def sample_graphs(seed: int, count: int, min_nodes: int = 200, max_nodes: int = 2000,
                  families: Sequence[str] = FAMILIES, stats: OpStatistics | None = None
                  ) -> Iterator[graph_lib.ComputationGraph]:
  """``count`` graphs with sizes log-uniform in [min_nodes, max_nodes] and families drawn uniformly.

  Graph ``k`` depends only on ``(seed, k)`` and the arguments, so streams can
  be resumed or sharded.
  """
  for k in range(int(count)):
    yield sample_graph(seed, k, min_nodes, max_nodes, families, stats)


def sample_graph(seed: int, index: int, min_nodes: int = 200, max_nodes: int = 2000,
                 families: Sequence[str] = FAMILIES, stats: OpStatistics | None = None
                 ) -> graph_lib.ComputationGraph:
  """Graph ``index`` of the stream of :func:`sample_graphs` with ``seed``."""
  if not families:
    raise ValueError("sample_graph needs at least one family")
  rng = np.random.default_rng([int(seed), int(index), 7])
  size = int(round(math.exp(rng.uniform(math.log(min_nodes), math.log(max_nodes)))))
  family = families[int(rng.integers(len(families)))]
  return generate(int(rng.integers(2**31)), size, family, stats,
                  name=f"synthetic_{family}_{seed}_{index}")


def main(argv: Sequence[str]) -> None:
  """``python -m go_jax.graph.synthetic [OUT.json]``: measures the zoo and writes the statistics."""
  from go_jax import workloads  # pylint: disable=g-import-not-at-top
  out = argv[1] if len(argv) > 1 else STATS_PATH
  graphs = []
  for name in workloads.list_workloads():
    graphs.append(workloads.get_graph(name))
    print(f"measured {name}: {graphs[-1].num_nodes} nodes", file=sys.stderr)
  stats = measure_statistics(graphs)
  tmp = out + ".tmp"
  with open(tmp, "w") as f:
    json.dump(stats.to_dict(), f, indent=1)
  os.replace(tmp, out)
  print(f"wrote {out} ({len(stats.op_types)} op types from {len(graphs)} graphs)", file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv)
