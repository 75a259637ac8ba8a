"""Runs optimization methods on (graph, cluster) problems and scores them side by side.

Every method, heuristic or learned, is a function ``Problem -> MethodOutput``
registered in :data:`go_jax.baselines.METHODS`. :func:`evaluate` runs the
requested methods on one problem, scores each method's decisions with the
exact reference simulator, and returns one record per method with the step
time, speedups over single-device and human-expert placement, peak memory,
OOM, step time / lower bound, simulator evaluations spent and wall-clock
search time, plus any fields the method reports in ``MethodOutput.record``
(e.g. HDP's learning curve).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

import numpy as np

from go_jax import errors
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib


@dataclasses.dataclass(frozen=True)
class Problem:
  """One optimization problem.

  Attributes:
    graph: the computation graph.
    cluster: the devices and links.
    budget: simulator evaluations a search method may spend.
    seed: random seed of stochastic methods.
    expert: (N,) int32 human-expert placement, if one is known for the graph.
    checkpoint: directory of a trained GO policy (orbax checkpoint with its
      config beside it) for methods that apply a pretrained policy; None means
      the policy shipped in the repository.
  """

  graph: graph_lib.ComputationGraph
  cluster: cluster_lib.Cluster
  budget: int = 1000
  seed: int = 0
  expert: np.ndarray | None = None
  checkpoint: str | None = None

  @property
  def num_devices(self) -> int:
    return self.cluster.num_devices

  @property
  def placement_cluster(self) -> cluster_lib.Cluster:
    """The devices heuristics place ops on: the accelerators, when a host CPU trails them.

    In a cluster of accelerators plus a host CPU (e.g. a dnn-partitioning
    file's own cluster), ops go to the accelerators, as TensorFlow's placers
    and the published expert splits do; an all-CPU cluster uses every device.
    Accelerators come first in every preset, so device ids stay valid.
    """
    kinds = self.cluster.device_kinds
    leading = next((k for k, kind in enumerate(kinds) if kind == "cpu"), len(kinds))
    if leading in (0, len(kinds)):
      return self.cluster
    return cluster_lib.first_devices(self.cluster, leading)

  def default_decisions(self) -> simulator.Decisions:
    """The default the scheduling, fusion and joint comparisons start from (N,).

    The human-expert placement (one device when none is known), equal
    priorities (level order, the static form of TensorFlow's FIFO ready
    queues) and no fusion. Scheduling and fusion baselines keep its
    placement; GO keeps its decisions for the tasks it does not decide.
    """
    return simulator.default_decisions(self.graph.num_nodes, self.expert)


@dataclasses.dataclass(frozen=True)
class MethodOutput:
  """What a method returns.

  Attributes:
    decisions: the chosen (N,) placement, priority and fusion.
    evaluations: simulator evaluations the method spent (0 for heuristics).
    notes: anything a reader of the results table should know.
    record: extra JSON-serialisable fields for the method's record (e.g.
      ``learning_curve``); they must not reuse the keys :func:`evaluate` sets.
  """

  decisions: simulator.Decisions
  evaluations: int = 0
  notes: str = ""
  record: dict[str, Any] = dataclasses.field(default_factory=dict)


Method = Callable[[Problem], MethodOutput]


class MethodUnavailable(errors.InputError):
  """A method cannot run on this problem (the message says why)."""


def summarize_decisions(decisions: simulator.Decisions, num_devices: int) -> dict[str, Any]:
  """What a decision vector does, in three numbers a reader can check at a glance.

  Returns:
    ``ops_per_device`` (list of ``num_devices`` op counts), ``priority_levels`` (distinct
    priorities used) and ``fused_ops`` (ops that request fusion).
  """
  placement = np.asarray(decisions.placement, np.int64)
  return {"ops_per_device": [int(c) for c in np.bincount(placement, minlength=num_devices)],
          "priority_levels": int(np.unique(np.asarray(decisions.priority)).size),
          "fused_ops": int(np.count_nonzero(np.asarray(decisions.fusion)))}


def describe_decisions(summary: dict[str, Any], num_nodes: int) -> str:
  """One line of :func:`summarize_decisions`'s result."""
  return (f"ops per device {summary['ops_per_device']}, {summary['priority_levels']} priority level(s), "
          f"{summary['fused_ops']} of {num_nodes} ops fused")


def exact_cost(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
               decisions: simulator.Decisions) -> tuple[bool, float]:
  """``(oom, step time in s)`` of ``decisions`` under the exact reference simulator.

  The tuple ranks decision sets the way every "keep the best" in the project
  does: feasible before OOM, then faster.
  """
  result, _ = simulator.simulate_reference(graph, cluster, decisions)
  return bool(np.any(result.oom)), float(result.step_time)


def evaluate(problem: Problem, methods: dict[str, Method], names: Sequence[str],
             progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
  """Runs ``names`` (keys of ``methods``) on ``problem`` and scores them.

  Returns:
    One record per method (dicts with the keys documented in the module
    docstring); a method that cannot run on this problem (e.g. ``expert``
    without an expert placement) is reported with ``step_time`` None and a
    ``notes`` entry saying why.
  """
  unknown = [n for n in names if n not in methods]
  if unknown:
    raise errors.InputError(f"unknown method(s) {', '.join(unknown)} (known: {', '.join(methods)})")
  graph, cluster = problem.graph, problem.cluster
  lower = simulator.lower_bound(graph, cluster)
  records = []
  for name in names:
    if progress:
      progress(f"{graph.name}: running {name}")
    start = time.perf_counter()
    try:
      output = methods[name](problem)
    except MethodUnavailable as e:
      records.append({"graph": graph.name, "method": name, "step_time": None, "lower_bound": lower,
                      "oom": None, "evaluations": 0, "search_seconds": 0.0, "notes": str(e)})
      continue
    seconds = time.perf_counter() - start
    result, _ = simulator.simulate_reference(graph, cluster, output.decisions)
    record = {
        "graph": graph.name,
        "method": name,
        "step_time": float(result.step_time),
        "lower_bound": lower,
        "step_over_lb": float(result.step_time) / lower if lower > 0 else float("nan"),
        "peak_memory": [float(m) for m in np.asarray(result.peak_memory)],
        "oom": bool(np.any(result.oom)),
        "bytes_moved": float(result.bytes_moved),
        "max_load": float(result.max_load),
        "evaluations": int(output.evaluations),
        "search_seconds": seconds,
        "notes": output.notes,
    }
    clashes = sorted(set(output.record) & set(record))
    if clashes:
      raise ValueError(f"method {name!r} reports record field(s) {', '.join(clashes)} "
                       "that evaluate() sets itself")
    record.update(output.record)
    records.append(record)
  add_speedups(records)
  return records


def add_speedups(records: list[dict[str, Any]]) -> None:
  """Sets ``speedup_vs_single`` and ``speedup_vs_expert`` of every record of one problem (None without them)."""
  by_method = {r["method"]: r["step_time"] for r in records}
  for ref in ("single", "expert"):
    base = by_method.get(ref)
    for r in records:
      r[f"speedup_vs_{ref}"] = (base / r["step_time"]) if base and r["step_time"] else None


def expert_for(spec: str, graph: graph_lib.ComputationGraph, num_devices: int) -> np.ndarray | None:
  """The human-expert placement for a graph given by ``spec`` (path or workload), if known.

  * a workload name or variant (``rnnlm_2:unroll=6``): the zoo's expert placement for
    ``num_devices`` devices;
  * a dnn-partitioning file ``.../<inputs>/<Graphs>/<model>.json``: the shipped
    split ``.../human-experts/<model>_expert.json`` when it exists and fits.
  """
  import importlib  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  if graph.meta.get("source_format") == "dnn-partitioning" and os.path.exists(spec):
    from go_jax.graph import dnn_partitioning  # pylint: disable=g-import-not-at-top
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(spec))))
    stem = os.path.splitext(os.path.basename(spec))[0]
    split = os.path.join(root, "human-experts", f"{stem}_expert.json")
    if not os.path.exists(split):
      return None
    devices = dnn_partitioning.load_expert_split(split, graph)
    return devices if devices.max() < num_devices else None
  if os.path.exists(spec):
    return None
  workloads = importlib.import_module("go_jax.workloads")
  name, _ = workloads.parse_variant(spec)  # a variant's expert is its workload's rule
  return np.asarray(workloads.expert_placement(name, graph, num_devices), np.int32)
