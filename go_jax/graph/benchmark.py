"""Speed of getting a graph: HLO parse, jaxpr import, workload tracing, cached load (library of bench_import).

Each ``measure_*`` function times one way of producing a
:class:`~go_jax.graph.graph.ComputationGraph` ``repeats`` times and returns a
frozen :class:`ImportMeasurement` with the median wall time (seconds) and the
graph's size. Every timed run is counted (no untimed warm-up run), so with
``repeats=1`` the one run is also the first, cold one. Inputs are built before
the clock starts: the HLO text by :func:`synthetic_hlo_module`, the jaxpr by
:func:`synthetic_jaxpr` (``jax.make_jaxpr``, untimed), the ``.gograph.npz``
file by :func:`go_jax.graph.serialization.save`.

Speed is measured here and recorded in ``BENCHMARKS.md`` by
``python -m experiments.bench_import``; tests check sizes and formats only,
never wall-clock limits.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import statistics
import tempfile
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

from go_jax.graph import graph as graph_lib
from go_jax.graph import hlo_import
from go_jax.graph import jax_import
from go_jax.graph import serialization

# Row kinds, in table order, and how the table names them.
HLO_PARSE = "hlo_parse"
JAXPR_IMPORT = "jaxpr_import"
TRACE = "trace"
GOGRAPH_LOAD = "gograph_load"
KIND_LABELS = {
    HLO_PARSE: "HLO text -> graph (`hlo_import.from_hlo_text`)",
    JAXPR_IMPORT: "jaxpr -> graph (`jax_import.from_jaxpr`)",
    TRACE: "trace workload, no cache (`load_workload(use_cache=False)`)",
    GOGRAPH_LOAD: "load `.gograph.npz` (`serialization.load`)",
}

# Shapes of the synthetic HLO module: activations (64, 256), weights (256, 256), f32.
_HLO_BATCH = 64
_HLO_WIDTH = 256


@dataclasses.dataclass(frozen=True)
class ImportMeasurement:
  """One row of the benchmark table: the median wall time of producing one graph one way.

  Attributes:
    kind: what was timed, one of :data:`KIND_LABELS` (``hlo_parse``, ``jaxpr_import``, ``trace``,
      ``gograph_load``).
    source: what it was timed on, e.g. ``"synthetic_hlo_module(10000)"`` or ``"wavenet_2x18"``.
    input_size: size of the input in ``input_unit`` (HLO instructions, jaxpr equations, file bytes);
      0 when the input has no size of its own (a workload trace).
    input_unit: unit of ``input_size`` (``"instructions"``, ``"equations"``, ``"bytes"`` or ``""``).
    num_nodes: nodes N of the resulting graph.
    num_edges: edges E of the resulting graph.
    seconds: median wall time of one run, seconds.
    repeats: timed runs the median is over.
  """

  kind: str
  source: str
  input_size: int
  input_unit: str
  num_nodes: int
  num_edges: int
  seconds: float
  repeats: int

  @property
  def nodes_per_second(self) -> float:
    """Graph nodes produced per second of median wall time."""
    return self.num_nodes / self.seconds if self.seconds > 0 else float("inf")


def synthetic_hlo_module(num_layers: int) -> str:
  """HLO text of a chain of ``num_layers`` dense + ReLU layers, ~5 instructions per layer.

  The ENTRY computation has one activation parameter ``h.0`` (64, 256) f32, then per
  layer ``i``: a weight parameter ``w.i`` (256, 256), ``d.i = dot(h.i, w.i)``, a scalar
  constant, its broadcast to (64, 256) and ``h.{i+1} = maximum(d.i, b.i)``; dots and
  maximums carry realistic ``metadata`` and every shape a layout, as in real dumps.

  Imported, it has ``5 * num_layers + 1`` nodes, ``5 * num_layers`` edges and
  ``num_layers * (2 * 64 * 256 * 256 + 64 * 256)`` FLOPs (the dot and the maximum).

  Args:
    num_layers: layers of the chain (>= 1).

  Returns:
    The module text (about 460 bytes per layer).
  """
  if num_layers < 1:
    raise ValueError(f"num_layers must be >= 1, got {num_layers}")
  act, weight = f"f32[{_HLO_BATCH},{_HLO_WIDTH}]{{1,0}}", f"f32[{_HLO_WIDTH},{_HLO_WIDTH}]{{1,0}}"
  lines = [f"HloModule synthetic, entry_computation_layout={{({act})->{act}}}", "",
           "ENTRY main {", f"  h.0 = {act} parameter(0)"]
  meta = ', metadata={op_name="jit(step)/layer/dot_general" source_file="/x/model.py" source_line=12}'
  for i in range(num_layers):
    lines += [
        f"  w.{i} = {weight} parameter({i + 1})",
        f"  d.{i} = {act} dot(h.{i}, w.{i}), lhs_contracting_dims={{1}}, rhs_contracting_dims={{0}}{meta}",
        f"  z.{i} = f32[] constant(0)",
        f"  b.{i} = {act} broadcast(z.{i}), dimensions={{}}",
        f"  h.{i + 1} = {act} maximum(d.{i}, b.{i}){meta}",
    ]
  lines[-1] = lines[-1].replace(f"  h.{num_layers} ", f"  ROOT h.{num_layers} ")
  return "\n".join(lines + ["}", ""])


def synthetic_hlo_flops(num_layers: int) -> float:
  """FLOPs of :func:`synthetic_hlo_module` ``(num_layers)``: a (64, 256) x (256, 256) dot and a maximum per layer."""
  return float(num_layers * (2 * _HLO_BATCH * _HLO_WIDTH * _HLO_WIDTH + _HLO_BATCH * _HLO_WIDTH))


def synthetic_jaxpr(num_equations: int):
  """A closed jaxpr of exactly ``num_equations`` equations (``jax.make_jaxpr`` of a Python loop).

  The function takes ``x`` (4, 8) f32 and ``w`` (8, 8) f32 and applies
  ``x = tanh(x @ w + 1.0) * 0.5`` (4 equations: dot_general, add, tanh, mul; the
  constants are literals) ``num_equations // 4`` times, then ``tanh``
  ``num_equations % 4`` times. Imported with :func:`go_jax.graph.jax_import.from_jaxpr`,
  it has ``num_equations + 2`` nodes (one per equation and per input).

  Args:
    num_equations: equations of the jaxpr (>= 1).

  Returns:
    The ``ClosedJaxpr``. Tracing it takes about twice as long as importing it (untimed here).
  """
  if num_equations < 1:
    raise ValueError(f"num_equations must be >= 1, got {num_equations}")

  def chain(x, w):
    for _ in range(num_equations // 4):
      x = jnp.tanh(x @ w + 1.0) * 0.5
    for _ in range(num_equations % 4):
      x = jnp.tanh(x)
    return x

  return jax.make_jaxpr(chain)(jax.ShapeDtypeStruct((4, 8), jnp.float32), jax.ShapeDtypeStruct((8, 8), jnp.float32))


def _median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
  """Calls ``fn`` ``repeats`` times; returns (median wall time in seconds, the last result)."""
  if repeats < 1:
    raise ValueError(f"repeats must be >= 1, got {repeats}")
  times, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), result


def measure_hlo_parse(num_layers: int, repeats: int = 3) -> ImportMeasurement:
  """Times :func:`go_jax.graph.hlo_import.from_hlo_text` on :func:`synthetic_hlo_module` ``(num_layers)``.

  Args:
    num_layers: layers of the synthetic module (``5 * num_layers + 1`` instructions).
    repeats: timed parses (>= 1); the row holds their median.
  """
  text = synthetic_hlo_module(num_layers)
  seconds, graph = _median_seconds(lambda: hlo_import.from_hlo_text(text), repeats)
  return ImportMeasurement(kind=HLO_PARSE, source=f"synthetic_hlo_module({num_layers})",
                           input_size=int(graph.meta["hlo_instructions"]), input_unit="instructions",
                           num_nodes=graph.num_nodes, num_edges=graph.num_edges, seconds=seconds, repeats=repeats)


def measure_jaxpr_import(num_equations: int, repeats: int = 3) -> ImportMeasurement:
  """Times :func:`go_jax.graph.jax_import.from_jaxpr` on :func:`synthetic_jaxpr` ``(num_equations)``.

  Args:
    num_equations: equations of the synthetic jaxpr (its tracing is not timed).
    repeats: timed imports (>= 1); the row holds their median.
  """
  closed = synthetic_jaxpr(num_equations)
  seconds, graph = _median_seconds(lambda: jax_import.from_jaxpr(closed, name="synthetic"), repeats)
  return ImportMeasurement(kind=JAXPR_IMPORT, source=f"synthetic_jaxpr({num_equations})",
                           input_size=len(closed.jaxpr.eqns), input_unit="equations", num_nodes=graph.num_nodes,
                           num_edges=graph.num_edges, seconds=seconds, repeats=repeats)


def _variant(name: str, knobs: Mapping[str, Any] | None) -> str:
  return name + (":" + ",".join(f"{k}={v}" for k, v in sorted(knobs.items())) if knobs else "")


def measure_trace(name: str, knobs: Mapping[str, Any] | None = None,
                  repeats: int = 3) -> tuple[ImportMeasurement, graph_lib.ComputationGraph]:
  """Times tracing the training step of zoo workload ``name`` from scratch, bypassing the graph cache.

  Each run is ``go_jax.workloads.load_workload(name, use_cache=False, **knobs)``: build the
  training step, ``jax.make_jaxpr`` it, import it, add colocation groups; the cache is neither
  read nor written.

  Args:
    name: a registered workload (``go_jax.workloads.list_workloads()``).
    knobs: overrides of the workload's knobs (e.g. ``{"unroll": 8}``); None keeps its defaults.
    repeats: timed traces (>= 1); the row holds their median.

  Returns:
    The row and the traced graph (e.g. for :func:`measure_gograph_load`).

  Raises:
    go_jax.workloads.UnknownWorkloadError: unknown workload or knob (an InputError).
  """
  # go_jax.workloads imports go_jax.graph, so it is imported on use (as go_jax.graph.synthetic does).
  from go_jax import workloads  # pylint: disable=g-import-not-at-top
  knobs = dict(knobs or {})  # a bad name or knob raises in the first run, before any row exists
  seconds, record = _median_seconds(lambda: workloads.load_workload(name, use_cache=False, **knobs), repeats)
  graph = record.graph
  return ImportMeasurement(kind=TRACE, source=_variant(name, knobs), input_size=0, input_unit="",
                           num_nodes=graph.num_nodes, num_edges=graph.num_edges, seconds=seconds,
                           repeats=repeats), graph


def measure_gograph_load(graph: graph_lib.ComputationGraph, repeats: int = 3, source: str | None = None,
                         directory: str | os.PathLike | None = None) -> ImportMeasurement:
  """Saves ``graph`` as ``.gograph.npz`` (compressed, as the workload cache does), then times loading it.

  Args:
    graph: the graph to save and load.
    repeats: timed :func:`go_jax.graph.serialization.load` calls (>= 1); the row holds their median.
    source: the row's source column (default: the graph's name).
    directory: where to write the file (default: a temporary directory, removed afterwards).

  Raises:
    graph_lib.GraphError: if the loaded graph differs in size from ``graph`` (a broken round trip).
  """
  with tempfile.TemporaryDirectory(dir=directory) as tmp:
    path = os.path.join(tmp, f"{graph.name or 'graph'}{serialization.SUFFIX}")
    serialization.save(graph, path)
    file_bytes = os.path.getsize(path)
    seconds, loaded = _median_seconds(lambda: serialization.load(path), repeats)
  if (loaded.num_nodes, loaded.num_edges) != (graph.num_nodes, graph.num_edges):
    raise graph_lib.GraphError(f"{path}: loaded {loaded.num_nodes} nodes / {loaded.num_edges} edges, "
                               f"saved {graph.num_nodes} / {graph.num_edges}")
  return ImportMeasurement(kind=GOGRAPH_LOAD, source=source or graph.name, input_size=file_bytes,
                           input_unit="bytes", num_nodes=loaded.num_nodes, num_edges=loaded.num_edges,
                           seconds=seconds, repeats=repeats)


def _input_cell(row: ImportMeasurement) -> str:
  if not row.input_unit:
    return "-"
  if row.input_unit == "bytes":
    return f"{row.input_size / 2**20:,.2f} MiB" if row.input_size >= 2**20 else f"{row.input_size / 2**10:,.1f} KiB"
  return f"{row.input_size:,} {row.input_unit}"


TABLE_COLUMNS = ("what", "input", "input size", "nodes N", "edges E", "median (s)", "nodes/s", "runs")


def format_table(rows: Sequence[ImportMeasurement]) -> str:
  """Markdown table of measurements, one line per row, columns :data:`TABLE_COLUMNS`."""
  lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|---|---|---:|---:|---:|---:|---:|---:|"]
  for row in rows:
    lines.append(f"| {KIND_LABELS.get(row.kind, row.kind)} | `{row.source}` | {_input_cell(row)} "
                 f"| {row.num_nodes:,} | {row.num_edges:,} | {row.seconds:.3g} | {row.nodes_per_second:,.0f} "
                 f"| {row.repeats} |")
  return "\n".join(lines)


def benchmark_section(rows: Sequence[ImportMeasurement], command: str, machine: str, repeats: int,
                      mode: str = "full", load_average: str = "", now: datetime.datetime | None = None) -> str:
  """The markdown appended to ``BENCHMARKS.md``: heading, command, what was timed, table.

  Args:
    rows: the measurements.
    command: the exact command line that produced them.
    machine: the machine, e.g. ``"Intel Xeon ..., 2 CPU cores (shared)"``.
    repeats: the ``--repeats`` the medians are over.
    mode: ``"quick"`` or ``"full"`` (the sizes' preset).
    load_average: text appended to the context line, e.g. ``"; load average 2.1 at the end"``.
    now: the date to print (default: now, UTC).
  """
  now = now or datetime.datetime.now(datetime.timezone.utc)
  return "\n".join([
      f"### Graph import and tracing ({mode}), {now:%Y-%m-%d %H:%M} UTC, {machine}, jax {jax.__version__} "
      f"on {jax.default_backend()}, median of {repeats}", "",
      f"Command: `{command}`", "",
      "Each row: median wall time of producing one graph, every run timed (no warm-up run); inputs are built "
      "untimed (synthetic HLO text, `jax.make_jaxpr` of the synthetic chain, the `.gograph.npz` file, written "
      f"compressed as the workload cache does){load_average}.", "",
      format_table(rows), ""])
