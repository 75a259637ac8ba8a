"""Small hand-built graphs where the right decisions are known (tests, ``configs/test.py``).

``--config.graph`` accepts these names besides workload names and files.
"""

from __future__ import annotations

from typing import Callable

from go_jax.graph import graph as graph_lib


def parallel_chains(num_chains: int = 4, length: int = 6, flops: float = 2e12,
                    edge_bytes: float = 1e6) -> graph_lib.ComputationGraph:
  """``num_chains`` independent chains of ``length`` heavy matmuls, joined by one cheap sum.

  On D >= ``num_chains`` devices the best placement puts one chain per device
  (about ``num_chains`` x faster than one device); edges are small, so the copy
  into the final sum costs little.
  """
  builder = graph_lib.GraphBuilder(f"parallel_chains_{num_chains}x{length}")
  tails = []
  for chain in range(num_chains):
    previous = builder.add_node(f"c{chain}_input", "parameter", shape=(256, 1024), param_bytes=1e6)
    for step in range(length):
      node = builder.add_node(f"c{chain}_matmul{step}", "dot", shape=(256, 1024), flops=flops,
                              bytes_read=2 * edge_bytes)
      builder.add_edge(previous, node, edge_bytes)
      previous = node
    tails.append(previous)
  total = builder.add_node("sum", "elementwise", shape=(256, 1024), bytes_read=num_chains * edge_bytes)
  for tail in tails:
    builder.add_edge(tail, total, edge_bytes)
  return builder.build()


#: name -> factory of a toy graph.
TOY_GRAPHS: dict[str, Callable[[], graph_lib.ComputationGraph]] = {
    "toy_chains_4x6": parallel_chains,
    "toy_chains_2x4": lambda: parallel_chains(num_chains=2, length=4),
}
