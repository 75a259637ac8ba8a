"""The registry of optimization methods (name -> ``Problem -> MethodOutput``)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from go_jax import evaluation
from go_jax.baselines import list_scheduling
from go_jax.baselines import metis
from go_jax.baselines import placement
from go_jax.graph import graph as graph_lib
import simulator
from simulator import objectives


def node_cost(problem: evaluation.Problem) -> np.ndarray:
  """(N,) seconds of each node on its fastest device (unfused): the balancing weight."""
  return objectives.node_times(problem.graph, problem.cluster).min(axis=1)


def _placement_method(heuristic: Callable[[graph_lib.ComputationGraph, int, np.ndarray], np.ndarray]):
  def method(problem: evaluation.Problem) -> evaluation.MethodOutput:
    devices = heuristic(problem.graph, problem.num_devices, node_cost(problem))
    return evaluation.MethodOutput(simulator.default_decisions(problem.graph.num_nodes, devices))
  method.__doc__ = heuristic.__doc__
  return method


def _schedule_method(heuristic: Callable[..., list_scheduling.Schedule]):
  def method(problem: evaluation.Problem) -> evaluation.MethodOutput:
    schedule = heuristic(problem.graph, problem.cluster)
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
  devices = metis.metis_placement(problem.graph, problem.cluster, seed=problem.seed)
  return evaluation.MethodOutput(simulator.default_decisions(problem.graph.num_nodes, devices))


METHODS: dict[str, evaluation.Method] = {
    "single": _placement_method(placement.single_device),
    "contiguous": _placement_method(placement.contiguous),
    "round_robin": _placement_method(placement.round_robin),
    "expert": expert,
    "metis": metis_method,
    "m_topo": _schedule_method(list_scheduling.m_topo),
    "m_etf": _schedule_method(list_scheduling.m_etf),
    "heft": _schedule_method(list_scheduling.heft),
}
