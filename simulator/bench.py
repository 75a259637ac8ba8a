"""Throughput benchmark of the reference and both JAX engines (scan, fixed point) (library side of experiments.bench_simulator)."""

from __future__ import annotations

import glob
import json
import os
import time
from typing import Callable

import jax
import numpy as np

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import reference
from simulator import types
from simulator import vectorized

_OPS = ("dot", "conv", "elementwise", "elementwise", "transcendental", "reduce", "reshape", "transpose")


def random_graph(num_nodes: int, seed: int = 0, window: int = 64) -> graph_lib.ComputationGraph:
  """A random DAG with ML-like costs: 1-3 producers among the previous ``window`` nodes.

  Costs: FLOPs log-uniform in [1e6, 1e10], tensors log-uniform in [1 KB, 64 MB].
  """
  rng = np.random.default_rng(seed)
  out = np.exp(rng.uniform(np.log(1e3), np.log(64e6), num_nodes))
  builder = graph_lib.GraphBuilder(f"random{num_nodes}")
  for i in range(num_nodes):
    builder.add_node(f"n{i}", str(rng.choice(_OPS)), flops=float(np.exp(rng.uniform(np.log(1e6), np.log(1e10)))),
                     bytes_read=float(out[i]), output_bytes=float(out[i]))
  for j in range(1, num_nodes):
    lo = max(0, j - window)
    for i in set(rng.integers(lo, j, size=int(rng.integers(1, 4))).tolist()):
      builder.add_edge(i, j, float(out[i]))
  return builder.build()


def random_decisions(rng: np.random.Generator, num_nodes: int, num_devices: int, batch: int) -> types.Decisions:
  """(batch, N) random placement, integer priorities in 0..3 and fusion requests (p = 0.5)."""
  return types.Decisions(rng.integers(0, num_devices, (batch, num_nodes)).astype(np.int32),
                         rng.integers(0, 4, (batch, num_nodes)).astype(np.float32),
                         rng.random((batch, num_nodes)) < 0.5)


def real_graphs(data_dir: str) -> dict[str, graph_lib.ComputationGraph]:
  """The largest dnn-partitioning operator graphs found under ``data_dir`` (empty if absent)."""
  from go_jax.graph import dnn_partitioning  # pylint: disable=g-import-not-at-top
  out = {}
  for path in sorted(glob.glob(os.path.join(data_dir, "throughput-inputs", "OperatorGraphs", "*training*.json"))):
    out[os.path.basename(path)[:-5]] = dnn_partitioning.load(path)
  return out


def _timed(fn: Callable[[], object], min_seconds: float, repeats: int) -> float:
  """Median over ``repeats`` of the seconds per call of ``fn`` (each repeat runs >= ``min_seconds``)."""
  samples = []
  for _ in range(repeats):
    calls, start = 0, time.perf_counter()
    while True:
      fn()
      calls += 1
      elapsed = time.perf_counter() - start
      if elapsed >= min_seconds:
        break
    samples.append(elapsed / calls)
  return float(np.median(samples))


def measure(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster, batches=(1, 64, 256),
            engines=vectorized.ENGINES, min_seconds: float = 1.0, repeats: int = 3,
            fixed_point_max_nodes: int = 2000, seed: int = 0, shards=(1,)) -> list[dict]:
  """Rows ``{graph, nodes, padded, engine, batch, shards, evals_per_s, compile_s, reference_evals_per_s, speedup}``.

  Every engine in ``engines`` runs every batch size, once per entry of
  ``shards`` that divides the batch and fits the local devices (the batch split
  over that many devices, :func:`simulator.vectorized.simulate_batch`) (the fixed-point engine only
  up to ``fixed_point_max_nodes`` nodes: beyond, one call takes minutes). The
  rate is the median of ``repeats`` timings, each of at least ``min_seconds``
  (the reference's too); ``compile_s`` is the first call.
  """
  rng = np.random.default_rng(seed)
  n, d = graph.num_nodes, cluster.num_devices
  g, jcluster = vectorized.prepare(graph, cluster)
  num_padded = int(g.node_mask.shape[0])
  # The reference is timed like the engines (median of ``repeats``), on one random decision set:
  # a single cold call varied 2x between runs (7.5 and 13.6 evaluations/s at 1k nodes).
  ref_decisions = jax.tree.map(lambda x: x[0], random_decisions(rng, n, d, 1))
  ref_rate = 1.0 / _timed(lambda: reference.simulate_reference(graph, cluster, ref_decisions), min_seconds, repeats)
  rows = []
  for engine in engines:
    if engine == "fixed_point" and n > fixed_point_max_nodes:
      continue
    for batch in batches:
      decisions = jax.tree.map(jax.numpy.asarray,
                               types.pad_decisions(random_decisions(rng, n, d, batch), num_padded))
      for num_shards in shards:
        if batch % num_shards or num_shards > jax.local_device_count():
          continue
        run = lambda decisions=decisions, engine=engine, num_shards=num_shards: jax.block_until_ready(  # noqa: E731
            vectorized.simulate_batch(g, jcluster, decisions, engine=engine, num_shards=num_shards))
        start = time.perf_counter()
        run()
        compile_s = time.perf_counter() - start
        rate = batch / _timed(run, min_seconds, repeats)
        rows.append(dict(graph=graph.name, nodes=n, padded=num_padded, engine=engine, batch=batch,
                         shards=num_shards, evals_per_s=rate, compile_s=compile_s,
                         reference_evals_per_s=ref_rate, speedup=rate / ref_rate))
  return rows


def stage_profile(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster, batch: int = 256,
                  repeats: int = 3, seed: int = 0) -> dict[str, float]:
  """Seconds per batch of each scan-engine stage, each jitted alone (median of ``repeats``).

  Stages: ``key_pass`` (sequential keys and fusion legality), ``kernels_rows``
  (:func:`simulator.vectorized.kernels`, the per-decision node sort and row
  layout), ``schedule_pass`` (sequential), ``peak_memory``, and ``total``
  (:func:`simulator.vectorized.simulate_batch`, one jit: less than the sum).
  """
  from simulator import scan_engine  # pylint: disable=g-import-not-at-top
  jnp = jax.numpy
  g, jc = vectorized.prepare(graph, cluster)
  num_padded, num_devices = int(g.node_mask.shape[0]), cluster.num_devices
  dtype = jc.peak_flops.dtype
  decisions = jax.tree.map(jnp.asarray, types.pad_decisions(
      random_decisions(np.random.default_rng(seed), graph.num_nodes, num_devices, batch), num_padded))
  plan = scan_engine.graph_plan(g)

  def timed(fn, *args):
    fn = jax.jit(fn)
    out = jax.block_until_ready(fn(*args))
    return _timed(lambda: jax.block_until_ready(fn(*args)), 0.0, repeats), out

  def inputs(d):
    _, _, candidate, is_contraction = vectorized.fusion_inputs(g, jc, d)
    return (jnp.where(g.node_mask, types.priority_delta(d.priority.astype(dtype), jnp), 0.0), candidate,
            is_contraction)

  delta, candidate, is_contraction = jax.jit(jax.vmap(inputs))(decisions)
  t_key, (key, has, first) = timed(
      lambda *a: scan_engine._key_pass(jax.tree.map(lambda x: x[None], plan.topological),  # pylint: disable=protected-access
                                       g.senders[None], *a, num_padded), delta, candidate, is_contraction)

  def kernel_rows(d, ki, hi, fi):
    kern = vectorized.kernels(g, jc, d, keys_and_fusion=lambda *_: (ki, hi, fi))
    return kern, scan_engine._schedule_rows(g, plan, kern)  # pylint: disable=protected-access

  t_rows, (kern, rows) = timed(jax.vmap(kernel_rows), decisions, key, has, first)
  t_schedule, record = timed(lambda r: scan_engine._schedule_pass(r, num_devices, num_padded, dtype), rows)  # pylint: disable=protected-access

  def memory(ki, rec):
    return scan_engine._peak_memory(g, jc, ki, rec[:, 0], rec[:, 1], rec[:, 3 + num_devices:].T,  # pylint: disable=protected-access
                                    rec[:, 3:3 + num_devices].T)

  t_memory, _ = timed(jax.vmap(memory), kern, record)
  t_total, _ = timed(lambda d: vectorized.simulate_batch(g, jc, d, engine="scan"), decisions)
  return dict(key_pass=t_key, kernels_rows=t_rows, schedule_pass=t_schedule, peak_memory=t_memory, total=t_total)


def table(rows: list[dict]) -> str:
  """A markdown table of :func:`measure` rows (with the scan / fixed-point ratio where both ran)."""
  rate = {(r["graph"], r["batch"], r["engine"], r["shards"]): r["evals_per_s"] for r in rows}
  lines = ["| graph | nodes | padded | engine | batch | shards | evals/s (median) | first call (compile) s | "
           "reference evals/s | vs reference | scan / fixed point |",
           "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
  for r in rows:
    fixed = rate.get((r["graph"], r["batch"], "fixed_point", r["shards"]))
    scan = rate.get((r["graph"], r["batch"], "scan", r["shards"]))
    ratio = f"{scan / fixed:.3g}x" if fixed and scan else "-"
    lines.append(f"| {r['graph']} | {r['nodes']} | {r['padded']} | {r['engine']} | {r['batch']} | {r['shards']} | "
                 f"{r['evals_per_s']:.4g} | {r['compile_s']:.3g} | {r['reference_evals_per_s']:.3g} | "
                 f"{r['speedup']:.3g}x | {ratio} |")
  return "\n".join(lines)


def quick_summary(rows: list[dict]) -> str:
  """The JSON line ``--quick`` prints last (scan engine, batch 256, the fastest shard count)."""
  by_nodes = {}
  for r in rows:
    if r["batch"] == 256 and r["engine"] == "scan" and (
        r["nodes"] not in by_nodes or r["evals_per_s"] > by_nodes[r["nodes"]]["evals_per_s"]):
      by_nodes[r["nodes"]] = r
  small, large = by_nodes[min(by_nodes)], by_nodes[max(by_nodes)]
  return json.dumps({"evals_per_s_1k": round(small["evals_per_s"], 2),
                     "evals_per_s_10k": round(large["evals_per_s"], 2),
                     "speedup_vs_reference_1k": round(small["speedup"], 2)})


def measure_relaxed(num_nodes: int, cluster: cluster_lib.Cluster, repeats: int = 3,
                    autodiff_up_to: int = 64_000, seed: int = 0) -> dict:
  """Seconds of the relaxed simulator (:mod:`simulator.relaxed`) on one random graph, float32.

  Times the forward pass and one value and gradient w.r.t. the placement
  probabilities with the hand-written reverse pass, and, for graphs of at most
  ``autodiff_up_to`` nodes, the same gradient through JAX's own transpose of
  the scan (O(N^2); None above the cap). Medians over ``repeats`` after one
  warm-up call that compiles; the plan is a jit argument, as in training.
  """
  from simulator import relaxed  # pylint: disable=g-import-not-at-top
  graph = random_graph(num_nodes, seed=seed)
  plan = relaxed.relaxed_plan(graph, cluster, dtype=np.float32)
  logits = np.random.default_rng(seed).normal(size=(num_nodes, cluster.num_devices)).astype(np.float32)
  temperature = np.float32(1e-4)

  def objective(scan):
    return lambda x, plan: relaxed.relaxed_schedule(plan, jax.nn.softmax(x, axis=-1), temperature, scan).step_time

  def timed(fn) -> float:
    jax.block_until_ready(fn(logits, plan))
    return _timed(lambda: jax.block_until_ready(fn(logits, plan)), 0.0, repeats)

  row = {"nodes": num_nodes, "rows": int(plan.node.shape[0]), "devices": cluster.num_devices,
         "forward_s": timed(jax.jit(objective(relaxed._scan_rows))),  # pylint: disable=protected-access
         "grad_s": timed(jax.jit(jax.value_and_grad(objective(relaxed._scan_rows)))),  # pylint: disable=protected-access
         "autodiff_grad_s": None}
  if num_nodes <= autodiff_up_to:
    row["autodiff_grad_s"] = timed(jax.jit(jax.value_and_grad(
        objective(relaxed._scan_rows_autodiff))))  # pylint: disable=protected-access
  return row


def relaxed_table(rows: list[dict]) -> str:
  """Markdown table of :func:`measure_relaxed` rows (seconds; the last column is autodiff / hand-written)."""
  lines = ["| nodes | scan rows | devices | forward (s) | value+grad, hand-written reverse (s) | "
           "value+grad, JAX autodiff (s) | autodiff / hand-written |", "|---:|---:|---:|---:|---:|---:|---:|"]
  for r in rows:
    auto = r["autodiff_grad_s"]
    lines.append(f"| {r['nodes']:,} | {r['rows']:,} | {r['devices']} | {r['forward_s']:.4f} | {r['grad_s']:.4f} | "
                 + (f"{auto:.4f} | {auto / r['grad_s']:.1f}x |" if auto is not None else "not run | - |"))
  return "\n".join(lines)
