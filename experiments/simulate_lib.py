"""Library behind ``python -m experiments.simulate``: load a graph, a cluster and decisions; simulate; report."""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import numpy as np

from go_jax import baselines
from go_jax import errors
from go_jax import evaluation
from go_jax.graph import dnn_partitioning
from go_jax.graph import graph as graph_lib
from go_jax.graph import loading
from simulator import cluster as cluster_lib
from simulator import objectives
from simulator import reference
from simulator import types


def load_cluster(spec: str | None, graph: graph_lib.ComputationGraph, num_devices: int | None = None
                 ) -> cluster_lib.Cluster:
  """The file's own cluster for dnn-partitioning graphs, else a preset / JSON (default ``v100x4``)."""
  if spec is None and "max_accelerators" in graph.meta:
    return cluster_lib.for_dnn_partitioning(graph.meta)
  return cluster_lib.get_cluster(spec or "v100x4", num_devices)


def load_decisions(spec: str | None, graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                   graph_spec: str | None = None) -> types.Decisions:
  """A decisions JSON (``placement``/``priority``/``fusion`` lists), an expert split, or a method name.

  Method names are those of :data:`go_jax.baselines.METHODS` (e.g. ``single``,
  ``heft``, ``metis``); search methods run with their default budget.

  Raises:
    errors.InputError: one line naming the file or method and the problem.
  """
  n, d = graph.num_nodes, cluster.num_devices
  if spec is None:
    spec = "single"
  if spec in baselines.METHODS:
    problem = evaluation.Problem(graph, cluster, expert=evaluation.expert_for(graph_spec, graph, d)
                                 if graph_spec else None)
    return baselines.METHODS[spec](problem).decisions
  if not os.path.exists(spec):
    raise errors.InputError(f"{spec}: no such decisions file nor method ({', '.join(baselines.METHODS)})")
  try:
    with open(spec) as f:
      raw = json.load(f)
  except json.JSONDecodeError as e:
    raise errors.InputError(f"{spec}: invalid JSON at line {e.lineno}: {e.msg}") from None
  if isinstance(raw, dict) and "fpgas" in raw:
    return types.default_decisions(n, dnn_partitioning.load_expert_split(spec, graph))
  if not isinstance(raw, dict) or "placement" not in raw:
    raise errors.InputError(f"{spec}: expected an object with 'placement' (and optional 'priority', 'fusion')")
  fields = {}
  for name, default, dtype in (("placement", None, np.int64), ("priority", 0.0, np.float64),
                               ("fusion", False, bool)):
    value = raw.get(name)
    if value is None:
      value = [default] * n
    try:
      arr = np.asarray(value, dtype)
    except (TypeError, ValueError):
      raise errors.InputError(f"{spec}: field {name!r} is not a list of numbers") from None
    if arr.shape != (n,):
      raise errors.InputError(f"{spec}: field {name!r} has {arr.size} entries, the graph has {n} nodes")
    fields[name] = arr
  bad = np.flatnonzero((fields["placement"] < 0) | (fields["placement"] >= d))
  if bad.size:
    raise errors.InputError(f"{spec}: node {bad[0]} ({graph.node_names[bad[0]]!r}) placed on device "
                            f"{fields['placement'][bad[0]]}, the cluster has {d}")
  return types.Decisions(fields["placement"].astype(np.int32), fields["priority"], fields["fusion"])


def simulate_to_dict(graph_spec: str, cluster_spec: str | None, decisions_spec: str | None,
                     num_devices: int | None = None) -> dict[str, Any]:
  """Runs the reference simulator and returns a JSON-ready report (seconds, bytes)."""
  graph = loading.load_graph(graph_spec)
  try:
    cluster = load_cluster(cluster_spec, graph, num_devices)
  except cluster_lib.ClusterError as e:
    raise errors.InputError(str(e)) from None
  decisions = load_decisions(decisions_spec, graph, cluster, graph_spec)
  result, _ = reference.simulate_reference(graph, cluster, decisions)
  bound = objectives.lower_bound(graph, cluster)
  return {
      "graph": graph.name, "nodes": graph.num_nodes, "cluster": cluster.name, "devices": cluster.num_devices,
      "step_time": result.step_time, "max_load": result.max_load,
      "peak_memory": [float(x) for x in result.peak_memory], "oom": bool(np.any(result.oom)),
      "oom_per_device": [bool(x) for x in result.oom], "busy_time": [float(x) for x in result.busy_time],
      "bytes_moved": result.bytes_moved, "lower_bound": bound,
      "step_time_over_lower_bound": result.step_time / bound if bound > 0 else None,
  }
