"""Fusion baselines: fusion requests for fixed placement and priorities.

* ``no_fusion``: every op is its own kernel.
* ``fuse_all``: request fusion for every op; the simulator's legality rule
  alone decides (the registered method tries it on one device and on the
  expert placement and keeps the faster). In this cost model a legal fusion never makes a kernel
  slower (summed FLOPs, external bytes only, one launch), so this trivial rule
  is a strong time baseline; it ignores memory (a fused kernel keeps all its
  operands alive until it runs) and XLA's operand cap. A learned fusion policy
  must be compared with it: the shipped pretrained policy's zero-shot
  decisions on wavenet_2x18, txl_2, inception_v3 and rnnlm_2 were exactly
  single device + fuse everything.
* ``xla_fusion``: XLA-like producer-consumer fusion: request fusion for every
  single-use elementwise, transcendental, convert, broadcast, reshape,
  transpose, slice or reduce producer, as long as the kernel it joins keeps at
  most ``max_operands`` (64) operands plus its output, XLA GPU's
  ``kMaxOperandsAndOutputsPerFusion``. The simulator's legality rule (single
  consumer on the same device, at most one contraction per kernel) decides
  what actually fuses, exactly as for any other decision vector.

  The operand cap matters for memory, not only for code size: a fused kernel
  runs at its root's place in the device order and needs all its operands
  then. Without the cap, a gradient-accumulation chain (``add_any`` over the 86
  decoder steps of gnmt_4's attention) becomes one kernel with 87 operands of
  44 MiB each, all alive until the last step; measured on gnmt_4 / v100x4 with
  the expert placement, the busiest device's peak went from 12.84 GiB (no
  fusion) to 15.17 GiB, over the V100's 14.9 GiB.
* ``greedy_fusion``: start from ``xla_fusion`` and, in rounds, flip the fusion
  request of candidate nodes (in descending order of the bytes fusing them
  would save), keeping a flip when the exact simulated step time improves;
  stops when the evaluation budget is spent or a round improves nothing.
"""

from __future__ import annotations

import numpy as np

from go_jax.baselines import objective as objective_lib
from go_jax.graph import graph as graph_lib
from go_jax.graph import ops
from simulator import cluster as cluster_lib
from simulator import types as sim_types

XLA_FUSIBLE_TYPES = frozenset({"elementwise", "transcendental", "convert", "broadcast", "reshape",
                               "transpose", "slice", "reduce"})
_FUSIBLE_IDS = np.asarray([ops.OP_TYPE_ID[t] for t in sorted(XLA_FUSIBLE_TYPES)])


def no_fusion(graph: graph_lib.ComputationGraph) -> np.ndarray:
  return np.zeros(graph.num_nodes, bool)


#: XLA GPU's cap on a fusion's operands plus outputs (``kMaxOperandsAndOutputsPerFusion``).
MAX_FUSION_OPERANDS = 64


def fuse_all(graph: graph_lib.ComputationGraph) -> np.ndarray:
  return np.ones(graph.num_nodes, bool)


def xla_fusion(graph: graph_lib.ComputationGraph, max_operands: int = MAX_FUSION_OPERANDS) -> np.ndarray:
  """(N,) bool fusion requests of XLA's default producer-consumer rule (see module docstring).

  In topological order, a single-use fusible producer j is requested into its
  consumer c when ``operands(c) - 1 + operands(j) + 1 <= max_operands``, where
  ``operands`` of a kernel so far counts the distinct producers of its members
  outside it (a producer shared by two members may be counted twice, which only
  makes the cap stricter); a granted request merges j's operands into c's.
  """
  if max_operands < 2:
    raise ValueError(f"max_operands must be >= 2 (one operand and the output), got {max_operands}")
  wanted = np.isin(graph.op_type, _FUSIBLE_IDS) & (graph.out_degree == 1)
  consumer, _ = sim_types.single_consumer(graph)
  pairs = np.unique(np.stack([graph.senders, graph.receivers], axis=1), axis=0)
  operands = np.bincount(pairs[:, 1], minlength=graph.num_nodes).astype(np.int64)  # distinct producers
  requests = np.zeros(graph.num_nodes, bool)
  for j in graph.topological_order.tolist():  # a node's producers are settled before it is
    if not wanted[j]:
      continue
    c = int(consumer[j])
    merged = operands[c] - 1 + operands[j]
    if merged + 1 <= max_operands:  # + 1: the kernel's output
      requests[j] = True
      operands[c] = merged
  return requests


def greedy_fusion(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster,
                  placement: np.ndarray, priority: np.ndarray, budget: int) -> tuple[np.ndarray, int]:
  """Greedy fusion by simulated gain. Returns (fusion (N,) bool, evaluations used <= budget).

  Candidates (nodes whose only consumer shares their device) are tried in
  descending order of the edge bytes fusing them would keep off memory, a
  batch of single flips at a time (one vectorized simulator call); the best
  improving flip of a batch is kept. A full pass without improvement ends the
  search, as does the budget.
  """
  objective = objective_lib.BatchedObjective(graph, cluster)
  placement = np.asarray(placement, np.int32)
  priority = np.asarray(priority, np.float32)
  fusion = xla_fusion(graph)
  consumer, edge_bytes = sim_types.single_consumer(graph)
  same_device = (consumer >= 0) & (placement[np.maximum(consumer, 0)] == placement)
  candidates = np.flatnonzero(same_device)
  candidates = candidates[np.argsort(-edge_bytes[candidates], kind="stable")]
  best = float(objective(placement[None], priority[None], fusion[None])[0])
  used = 1
  position, improved_this_pass = 0, False
  while used < budget and candidates.size:
    count = min(objective.chunk_size, budget - used, candidates.size - position)
    nodes = candidates[position:position + count]
    trials = np.repeat(fusion[None], count, axis=0)
    trials[np.arange(count), nodes] ^= True
    costs = objective(np.repeat(placement[None], count, 0), np.repeat(priority[None], count, 0), trials)
    used += count
    k = int(np.argmin(costs))
    if costs[k] < best:
      best, fusion, improved_this_pass = float(costs[k]), trials[k], True
    position += count
    if position >= candidates.size:
      if not improved_this_pass:
        break
      position, improved_this_pass = 0, False
  return fusion, used
