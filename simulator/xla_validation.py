"""Validates the simulator's memory model against XLA's own memory planner.

One device, XLA's schedule: the step is compiled with ``jax.jit``; its
optimized, scheduled HLO (``compiled.as_text()``, ``is_scheduled=true``: on
CPU the ENTRY computation's instruction order *is* the sequential schedule)
is imported with ``hlo_import.from_hlo_text(..., inline_fusions=False)``, so
every top-level instruction is one node and every ``fusion`` one kernel
(whose internal tensors take no memory, as in XLA). The reference simulator
then runs it on one device with priorities reproducing that order
(``reference.priorities_from_order``), and its peak memory is compared with
``compiled.memory_analysis()``.

Why ``inline_fusions=False`` rather than inlining and setting fusion
decisions: XLA fusions are DAGs (an operand used twice inside, multi-output
fusions, several contractions in one ``ynn``/``__onednn`` fusion), while the
simulator's fusion rule builds trees (a node fuses only into its single
consumer, at most one contraction per kernel). Inlined members could
therefore not always be fused back, and their internal tensors would take
memory that XLA never allocates. One node per fusion is exact by construction.

What is compared (bytes):

* XLA's **live peak** (the headline): the largest total size of the buffers
  live at one point of XLA's schedule, as XLA's own ``HloLiveRange`` reports
  it ("Live ranges at T (peak)" in the ``*-live-range.txt`` file that
  ``xla_dump_to`` writes; the step is compiled with that per-compilation
  option into a temporary directory). This is the quantity the simulator
  models: bytes of live tensors under one schedule, with XLA's liveness
  (buffers XLA shares in place are one buffer). Parameters count all step,
  outputs from their definition to the end.
* XLA's **allocations**, from ``compiled.memory_analysis()``:
  ``argument_size_in_bytes`` (the entry parameters: params, optimizer state,
  batch) + ``temp_size_in_bytes`` (the one preallocated temp buffer, packed
  by the heap simulator) + ``output_size_in_bytes`` (live-out buffers,
  separate allocations) - ``alias_size_in_bytes`` (outputs donated into
  arguments; 0 without donation). These are reserved sizes, not a live peak:
  XLA's buffer assignment also places temporaries inside the live-out
  allocations before the outputs are written (``BufferAssigner`` reuses any
  allocation whose buffers do not interfere), so ``argument + temp`` can be
  below the live peak and ``argument + temp + output`` above it (BERT-base:
  2152 MB and 3473 MB around a live peak of 2643 MB). Both are reported as
  a bracket. (``memory_analysis().peak_memory_in_bytes`` is not the live
  peak on CPU: it equals ``argument + output`` for both test models.)
* Simulator: ``peak_memory[0]`` of :func:`reference.simulate_reference` on
  the graph as imported (``sim_peak``; a parameter's output is its resident
  ``param_bytes``, counted once, see ``simulator/README.md``, Memory) and on a
  copy where a sink node scheduled last consumes the step's outputs, so they
  stay allocated to the end like XLA's live-out buffers
  (``sim_peak_live_out``). The headline ratio is ``sim_peak_live_out /
  xla_live_peak``.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import os
import re
import tempfile
from typing import Any, Callable

import jax
import numpy as np

from go_jax.graph import graph as graph_lib
from go_jax.graph import hlo_import
from go_jax.graph import ops
from simulator import cluster as cluster_lib
from simulator import reference
from simulator import types

#: Memory of the one simulated device: large enough never to be the question.
_CAPACITY = float(2**50)


def single_device_cluster() -> cluster_lib.Cluster:
  """The ``cpu_host`` device (2.2 TFLOP/s, 128 GB/s) with 1 PiB of memory."""
  host = cluster_lib.cpu_host()
  return cluster_lib.make_cluster("xla_validation", "cpu", host.peak_flops, host.mem_bandwidth,
                                  _CAPACITY, host.launch_overhead, host.link_latency,
                                  host.link_bandwidth, host.eff, host.eff_bw)


def with_live_out_sink(graph: graph_lib.ComputationGraph) -> tuple[graph_lib.ComputationGraph, int]:
  """A copy plus one last node ``live_out`` consuming every output of the step.

  Outputs are the non-parameter nodes without consumers (in an optimized,
  dead-code-free module: the leaves of the ENTRY ROOT). Scheduled last, the
  sink keeps them allocated until the end of the step.

  Returns:
    ``(graph, sink node id)``.
  """
  n = graph.num_nodes
  outputs = np.flatnonzero((graph.out_degree == 0) & (graph.op_type != ops.OP_TYPE_ID["parameter"]))
  append = lambda array, value: np.concatenate([np.asarray(array), [value]])  # noqa: E731
  sink = dataclasses.replace(
      graph, node_names=graph.node_names + ("live_out",),
      op_type=append(graph.op_type, ops.OP_TYPE_ID["other"]), dtype=append(graph.dtype, graph.dtype[0]),
      rank=append(graph.rank, 0), dims=np.concatenate([graph.dims, np.zeros((1, graph.dims.shape[1]))]),
      flops=append(graph.flops, 0.0), bytes_read=append(graph.bytes_read, 0.0),
      bytes_written=append(graph.bytes_written, 0.0), output_bytes=append(graph.output_bytes, 0.0),
      param_bytes=append(graph.param_bytes, 0.0), colocation=append(graph.colocation, -1),
      senders=np.concatenate([graph.senders, outputs]),
      receivers=np.concatenate([graph.receivers, np.full(outputs.size, n)]),
      edge_bytes=np.concatenate([graph.edge_bytes, graph.output_bytes[outputs]]),
      latency={k: append(v, np.nan) for k, v in graph.latency.items()},
      transfer_time=None if graph.transfer_time is None else np.concatenate(
          [graph.transfer_time, np.full(outputs.size, np.nan)]),
      node_attrs={}, meta=dict(graph.meta))
  return sink, n


def simulate_in_order(graph: graph_lib.ComputationGraph, order=None,
                      cluster: cluster_lib.Cluster | None = None):
  """Runs the reference simulator on one device in ``order`` (default: node id order).

  Returns:
    ``(SimResult, Trace)`` of :func:`reference.simulate_reference`.
  """
  n = graph.num_nodes
  order = np.arange(n) if order is None else np.asarray(order)
  decisions = types.Decisions(np.zeros(n, np.int32), reference.priorities_from_order(graph, order),
                              np.zeros(n, bool))
  return reference.simulate_reference(graph, cluster or single_device_cluster(), decisions)


def live_at_peak(graph: graph_lib.ComputationGraph, trace: reference.Trace) -> dict[str, Any]:
  """Which tensors the simulator holds at its (one-device) peak.

  Returns:
    dict with ``time`` (s), ``running`` (kernel names), ``bytes_by_op_type``
    (op type -> bytes live, parameters' ``param_bytes`` excluded) and
    ``largest`` ((name, op type, bytes) of the 10 largest live tensors).
  """
  free = trace.finish.copy()
  np.maximum.at(free, graph.senders, trace.finish[graph.receivers])
  size = types.local_output_bytes(graph)  # a parameter's output is its resident bytes: not counted again
  events = []
  for i in np.flatnonzero((free > trace.start) & (size > 0)):
    events += [(trace.start[i], 1, size[i]), (free[i], 0, -size[i])]
  live, best, best_time = 0.0, -1.0, 0.0
  for time, _, delta in sorted(events, key=lambda e: (e[0], e[1])):
    live += delta
    if live > best:
      best, best_time = live, time
  alive = np.flatnonzero((trace.start <= best_time) & (best_time < free) & (size > 0))
  by_type: dict[str, float] = collections.Counter()
  for i in alive:
    by_type[graph.op_type_name(int(i))] += float(size[i])
  largest = sorted(alive, key=lambda i: -size[i])[:10]
  running = np.flatnonzero((trace.start <= best_time) & (best_time < trace.finish))
  return {"time": float(best_time), "running": [graph.node_names[i] for i in running],
          "bytes_by_op_type": dict(by_type),
          "largest": [(graph.node_names[i], graph.op_type_name(int(i)), float(size[i]))
                      for i in largest]}


def live_range_peak(live_range_text: str) -> float:
  """XLA's live peak (bytes) from an ``HloLiveRange`` dump (``*-live-range.txt``).

  The dump lists the buffers live at the peak under "Live ranges at T
  (peak):", each line with the running total ``(cumulative: N bytes)``; the
  last total is the peak.

  Raises:
    ValueError: if the text has no such section.
  """
  section = re.search(r"Live ranges at \d+ \(peak\):\n((?:\s+\S.*\(cumulative: \d+ bytes\)\n?)*)",
                      live_range_text)
  totals = re.findall(r"\(cumulative: (\d+) bytes\)", section.group(1)) if section else []
  if not totals:
    raise ValueError("no 'Live ranges at T (peak):' section with cumulative sizes in the HloLiveRange dump")
  return float(totals[-1])


def compare_compiled(hlo_text: str, stats: Any, name: str = "step",
                     xla_live_peak: float | None = None) -> dict[str, Any]:
  """Compares an optimized, scheduled HLO module with XLA's memory figures.

  Args:
    hlo_text: ``compiled.as_text()`` (must be scheduled).
    stats: ``compiled.memory_analysis()`` (``CompiledMemoryStats``).
    name: graph name.
    xla_live_peak: XLA's live peak in bytes (:func:`live_range_peak`), if known;
      without it ``ratio`` and ``xla_live_peak`` are NaN.

  Returns:
    See :func:`compare_with_xla`.
  """
  if "is_scheduled=true" not in hlo_text.split("\n", 1)[0]:
    raise ValueError("the HLO module is not scheduled (expected compiled.as_text())")
  graph = hlo_import.from_hlo_text(hlo_text, name=name, inline_fusions=False, warn=lambda _: None)
  result, trace = simulate_in_order(graph)
  sink_graph, _ = with_live_out_sink(graph)
  live_out, _ = simulate_in_order(sink_graph)
  argument = float(stats.argument_size_in_bytes)
  output = float(stats.output_size_in_bytes)
  alias = float(stats.alias_size_in_bytes)
  temp = float(stats.temp_size_in_bytes)
  xla_total = argument + temp + output - alias
  live_peak = float("nan") if xla_live_peak is None else float(xla_live_peak)
  return {
      "name": name,
      "num_nodes": graph.num_nodes,
      "num_fusions": int(sum(1 for n in graph.node_names if "fusion" in n)),
      "param_bytes": float(graph.param_bytes.sum()),
      "sim_peak": float(result.peak_memory[0]),
      "sim_peak_live_out": float(live_out.peak_memory[0]),
      "xla_live_peak": live_peak,
      "xla_argument": argument,
      "xla_output": output,
      "xla_alias": alias,
      "xla_temp": temp,
      "xla_argument_plus_temp": argument + temp,
      "xla_total": xla_total,
      "ratio": float(live_out.peak_memory[0]) / live_peak,
      "ratio_vs_total": float(live_out.peak_memory[0]) / xla_total,
      "ratio_vs_argument_plus_temp": float(result.peak_memory[0]) / (argument + temp),
      "sim_live_at_peak": live_at_peak(graph, trace),
  }


def compare_with_xla(step_fn: Callable, *args) -> dict[str, Any]:
  """Compiles ``step_fn(*args)`` for the default (CPU) device and compares peak memory.

  The compilation dumps XLA's artifacts (``xla_dump_to``, a per-compilation
  option) into a temporary directory, from which XLA's ``HloLiveRange`` peak
  is read; the directory is deleted afterwards.

  Args:
    step_fn: the function (e.g. a training step); not yet jitted or jitted.
    *args: its arguments; ``jax.ShapeDtypeStruct`` pytrees avoid allocation.

  Returns:
    dict (bytes unless noted): ``sim_peak_live_out`` (the simulated peak with
    outputs kept to the end), ``sim_peak`` (the graph as imported),
    ``xla_live_peak`` (XLA's live peak, see the module docstring),
    ``xla_argument``, ``xla_output``, ``xla_alias``, ``xla_temp``,
    ``xla_total`` (argument + temp + output - alias),
    ``xla_argument_plus_temp``, ``ratio`` (``sim_peak_live_out /
    xla_live_peak``), ``ratio_vs_total`` (``sim_peak_live_out / xla_total``),
    ``ratio_vs_argument_plus_temp`` (``sim_peak / (argument + temp)``),
    ``num_nodes``, ``param_bytes``, ``sim_live_at_peak`` (see
    :func:`live_at_peak`).

  Raises:
    RuntimeError: if XLA wrote no ``HloLiveRange`` dump.
  """
  with tempfile.TemporaryDirectory(prefix="xla_validation_") as dump_dir:
    compiled = jax.jit(step_fn).lower(*args).compile(compiler_options={"xla_dump_to": dump_dir})
    dumps = sorted(glob.glob(os.path.join(dump_dir, "*after_optimizations-live-range.txt")))
    if not dumps:
      raise RuntimeError(f"XLA wrote no *after_optimizations-live-range.txt into {dump_dir}")
    with open(dumps[-1]) as f:  # one module per compilation; the last is the step's
      live_peak = live_range_peak(f.read())
  return compare_compiled(compiled.as_text(), compiled.memory_analysis(),
                          name=getattr(step_fn, "__name__", "step"), xla_live_peak=live_peak)
