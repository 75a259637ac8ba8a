"""Hand-checked tests of the simple placement heuristics."""

import numpy as np

from go_jax.baselines import placement
from go_jax.graph import graph as graph_lib


def chain(costs, colocation=None):
  b = graph_lib.GraphBuilder("chain")
  for i, c in enumerate(costs):
    b.add_node(f"n{i}", "dot", flops=c, colocation=-1 if colocation is None else colocation[i])
    if i:
      b.add_edge(i - 1, i, 4)
  return b.build()


def test_single_and_round_robin():
  g = chain([1, 1, 1, 1, 1])
  assert placement.single_device(g, 4).tolist() == [0, 0, 0, 0, 0]
  assert placement.round_robin(g, 2).tolist() == [0, 1, 0, 1, 0]


def test_contiguous_balances_cost():
  # Costs 1, 1, 2, 4 (total 8), D = 2: midpoints 0.5, 1.5, 3, 6 -> chunks 0, 0, 0, 1.
  g = chain([1, 1, 2, 4])
  assert placement.contiguous(g, 2, np.array([1.0, 1.0, 2.0, 4.0])).tolist() == [0, 0, 0, 1]
  # Unit costs, 4 nodes on 2 devices: midpoints 0.5, 1.5, 2.5, 3.5 of 4 -> 0, 0, 1, 1.
  assert placement.contiguous(g, 2).tolist() == [0, 0, 1, 1]


def test_colocation_follows_the_first_member():
  # n0 and n3 share group 7: n3 must follow n0 (device 0 under round robin).
  g = chain([1, 1, 1, 1], colocation=[7, -1, -1, 7])
  assert placement.round_robin(g, 2).tolist() == [0, 1, 0, 0]
