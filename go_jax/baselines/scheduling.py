"""Scheduling baselines: priorities for a fixed placement.

* ``level_order``: equal priorities, i.e. level (longest-path depth) order on
  every device: the static analogue of TensorFlow's FIFO ready queues and the
  simulator's default.
* ``tf_fifo``: TensorFlow's dynamic default, simulated by the reference
  simulator's FIFO policy (a free device runs the kernel whose inputs arrived
  first), then expressed as priorities reproducing the order it produced.
* ``critical_path``: HEFT's upward rank (longest remaining path including
  mean communication) first: the classic list-scheduling priority.
* ``random_priority``: uniformly random integer priority levels (seeded).

Every function returns (N,) float32 priorities (higher runs earlier).
"""

from __future__ import annotations

import numpy as np

from go_jax.baselines import list_scheduling
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib
from simulator import reference

NUM_RANDOM_LEVELS = 16


def level_order(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                placement: np.ndarray, seed: int = 0) -> np.ndarray:
  del cluster, placement, seed
  return np.zeros(graph.num_nodes, np.float32)


def tf_fifo(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
            placement: np.ndarray, seed: int = 0) -> np.ndarray:
  del seed
  decisions = simulator.default_decisions(graph.num_nodes, placement)
  _, trace = reference.simulate_reference(graph, cluster, decisions, policy=reference.FIFO)
  # Start times respect dependencies; the level breaks ties between a zero-time
  # producer and its consumer, so the order is topological.
  order = np.lexsort((np.arange(graph.num_nodes), graph.levels, trace.start))
  return reference.priorities_from_order(graph, order).astype(np.float32)


def critical_path(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                  placement: np.ndarray, seed: int = 0) -> np.ndarray:
  del placement, seed
  costs = list_scheduling.cost_model(graph, cluster)
  rank = list_scheduling.upward_rank(graph, costs)
  preferred = np.lexsort((np.arange(graph.num_nodes), graph.levels, -rank))
  order = list_scheduling.make_topological(graph, preferred)
  return reference.priorities_from_order(graph, order).astype(np.float32)


def random_priority(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                    placement: np.ndarray, seed: int = 0) -> np.ndarray:
  del cluster, placement
  rng = np.random.default_rng(seed)
  return rng.integers(0, NUM_RANDOM_LEVELS, graph.num_nodes).astype(np.float32)
