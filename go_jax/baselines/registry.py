"""The registry of optimization methods (name -> ``Problem -> MethodOutput``)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from go_jax import evaluation
from go_jax.baselines import fusion
from go_jax.baselines import hdp
from go_jax.baselines import list_scheduling
from go_jax.baselines import metis
from go_jax.baselines import placement
from go_jax.baselines import scheduling
from go_jax.baselines import search
from go_jax.rl import method as rl_method
from go_jax.rl import pretrained as rl_pretrained
from go_jax.graph import graph as graph_lib
import simulator
from simulator import objectives


def node_cost(problem: evaluation.Problem) -> np.ndarray:
  """(N,) seconds of each node on its fastest device (unfused): the balancing weight."""
  return objectives.node_times(problem.graph, problem.placement_cluster).min(axis=1)


def _placement_method(heuristic: Callable[[graph_lib.ComputationGraph, int, np.ndarray], np.ndarray]):
  def method(problem: evaluation.Problem) -> evaluation.MethodOutput:
    devices = heuristic(problem.graph, problem.placement_cluster.num_devices, node_cost(problem))
    return evaluation.MethodOutput(simulator.default_decisions(problem.graph.num_nodes, devices))
  method.__doc__ = heuristic.__doc__
  return method


def _schedule_method(heuristic: Callable[..., list_scheduling.Schedule]):
  def method(problem: evaluation.Problem) -> evaluation.MethodOutput:
    schedule = heuristic(problem.graph, problem.placement_cluster)
    devices = placement.apply_colocation(problem.graph, schedule.placement)
    return evaluation.MethodOutput(simulator.Decisions(
        devices, schedule.priority.astype(np.float32), np.zeros(problem.graph.num_nodes, bool)))
  method.__doc__ = heuristic.__doc__
  return method


def expert(problem: evaluation.Problem) -> evaluation.MethodOutput:
  """The human-expert placement known for the graph (workload zoo or shipped split)."""
  if problem.expert is None:
    raise evaluation.MethodUnavailable(f"no human-expert placement is known for {problem.graph.name!r}")
  devices = np.asarray(problem.expert, np.int32)
  if devices.shape != (problem.graph.num_nodes,) or devices.min() < 0 or devices.max() >= problem.num_devices:
    raise evaluation.MethodUnavailable(
        f"expert placement for {problem.graph.name!r} does not fit {problem.num_devices} devices")
  return evaluation.MethodOutput(simulator.default_decisions(problem.graph.num_nodes, devices))


def metis_method(problem: evaluation.Problem) -> evaluation.MethodOutput:
  """METIS balanced min-cut (compute-balanced, traffic-minimising) with memory repair."""
  devices = metis.metis_placement(problem.graph, problem.placement_cluster, seed=problem.seed)
  return evaluation.MethodOutput(simulator.default_decisions(problem.graph.num_nodes, devices))


def base_placement(problem: evaluation.Problem) -> np.ndarray:
  """The placement scheduling/fusion baselines keep: the human expert's, else single device."""
  return problem.default_decisions().placement


def _scheduling_method(priorities: Callable[..., np.ndarray]):
  def method(problem: evaluation.Problem) -> evaluation.MethodOutput:
    devices = base_placement(problem)
    priority = priorities(problem.graph, problem.cluster, devices, seed=problem.seed)
    return evaluation.MethodOutput(simulator.Decisions(devices, priority, fusion.no_fusion(problem.graph)),
                                   notes="on the expert placement" if problem.expert is not None else
                                   "on a single device (no expert placement known)")
  method.__doc__ = priorities.__doc__
  return method


def xla_fusion_method(problem: evaluation.Problem) -> evaluation.MethodOutput:
  """XLA-like default fusion on the base placement, level-order scheduling."""
  devices = base_placement(problem)
  return evaluation.MethodOutput(simulator.Decisions(
      devices, np.zeros(problem.graph.num_nodes, np.float32), fusion.xla_fusion(problem.graph)))


def fuse_all_method(problem: evaluation.Problem) -> evaluation.MethodOutput:
  """Fusion requested for every op (legality decides), level-order scheduling, on the faster of
  one device and the expert placement (exact simulator; one evaluation per candidate)."""
  num_nodes = problem.graph.num_nodes
  zeros, everything = np.zeros(num_nodes, np.float32), fusion.fuse_all(problem.graph)
  candidates = {"one device": np.zeros(num_nodes, np.int32)}
  if problem.expert is not None:
    candidates["the expert placement"] = np.asarray(problem.expert, np.int32)
  scored = []
  for name, devices in candidates.items():
    decisions = simulator.Decisions(devices, zeros, everything)
    scored.append((*evaluation.exact_cost(problem.graph, problem.cluster, decisions), name, decisions))
  _, _, name, decisions = min(scored, key=lambda s: s[:2])  # feasible first, then faster
  return evaluation.MethodOutput(decisions, evaluations=len(candidates), notes=f"on {name}")


def greedy_fusion_method(problem: evaluation.Problem) -> evaluation.MethodOutput:
  """Greedy fusion by simulated gain on the base placement (budgeted)."""
  devices = base_placement(problem)
  priority = np.zeros(problem.graph.num_nodes, np.float32)
  requests, used = fusion.greedy_fusion(problem.graph, problem.cluster, devices, priority, problem.budget)
  return evaluation.MethodOutput(simulator.Decisions(devices, priority, requests), evaluations=used)


METHODS: dict[str, evaluation.Method] = {
    "single": _placement_method(placement.single_device),
    "contiguous": _placement_method(placement.contiguous),
    "round_robin": _placement_method(placement.round_robin),
    "expert": expert,
    "metis": metis_method,
    "m_topo": _schedule_method(list_scheduling.m_topo),
    "m_etf": _schedule_method(list_scheduling.m_etf),
    "m_sct": _schedule_method(list_scheduling.m_sct),
    "heft": _schedule_method(list_scheduling.heft),
    # Scheduling and fusion baselines keep the expert placement (single device if none).
    "fifo": _scheduling_method(scheduling.tf_fifo),
    "critical_path": _scheduling_method(scheduling.critical_path),
    "random_priority": _scheduling_method(scheduling.random_priority),
    "xla_fusion": xla_fusion_method,
    "fuse_all": fuse_all_method,
    "greedy_fusion": greedy_fusion_method,
    # Search under the simulator-evaluation budget (problem.budget).
    **search.METHODS,
    # Hierarchical device placement (Mirhoseini et al., ICLR 2018), REINFORCE under the same budget.
    **hdp.METHODS,
    # GO-one: the GO policy trained with PPO on this graph alone, under the same budget.
    **rl_method.METHODS,
    # GO: a pretrained policy (--checkpoint, else the one shipped in go_jax/pretrained/), zero-shot.
    **rl_pretrained.METHODS,
}


HEURISTICS: tuple[str, ...] = ("single", "contiguous", "round_robin", "expert", "metis", "m_topo", "m_etf",
                               "m_sct", "heft", "fifo", "critical_path", "random_priority", "xla_fusion",
                               "fuse_all")
assert set(HEURISTICS) <= set(METHODS)
