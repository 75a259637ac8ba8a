"""Random computation graphs of realistic shape, for tests and benchmarks of the networks.

Training graphs of DNNs are long, narrow DAGs: most ops consume the op just
before them (chains), some consume a few ops back (residuals, gates), and the
backward pass reaches far back to forward activations. :func:`random_graph`
draws each node's producers with that mix; the average in-degree is about 1.6.
"""

from __future__ import annotations

import numpy as np

from go_jax.graph import graph as graph_lib
from go_jax.graph import ops


def random_graph(num_nodes: int, seed: int = 0, name: str | None = None) -> graph_lib.ComputationGraph:
  """A random DAG of ``num_nodes`` ops with random op types, shapes and costs.

  Args:
    num_nodes: number of nodes N >= 1.
    seed: numpy random seed.
    name: graph name (default ``random_<N>_<seed>``).

  Returns:
    A validated ComputationGraph; node ids are already a topological order.
  """
  rng = np.random.default_rng(seed)
  n = int(num_nodes)
  consumers = np.arange(1, n)
  fan_in = rng.choice([1, 2, 3], size=n - 1, p=[0.55, 0.35, 0.10])
  consumer = np.repeat(consumers, fan_in)
  local = rng.random(consumer.size) < 0.8
  offset = np.where(local, rng.geometric(0.5, consumer.size),
                    (rng.random(consumer.size) * consumer).astype(np.int64) + 1)
  producer = consumer - np.minimum(offset, consumer)
  pairs = np.unique(np.stack([producer, consumer], axis=1), axis=0)
  senders, receivers = pairs[:, 0], pairs[:, 1]

  rank = rng.integers(0, 5, n).astype(np.int32)
  dims = np.zeros((n, graph_lib.MAX_RANK), np.int64)
  dims[:, :4] = 2 ** rng.integers(0, 11, (n, 4))
  dims[np.arange(graph_lib.MAX_RANK)[None, :] >= rank[:, None]] = 0
  elements = np.where(dims > 0, dims, 1).prod(axis=1).astype(np.float64)
  output_bytes = 4.0 * elements
  op_type = rng.integers(0, ops.NUM_OP_TYPES, n).astype(np.int32)
  flops = elements * 2.0 ** rng.integers(0, 12, n)
  return graph_lib.ComputationGraph(
      name=name or f"random_{n}_{seed}", node_names=tuple(f"op{i}" for i in range(n)), op_type=op_type,
      dtype=np.full(n, ops.DTYPE_ID["f32"], np.int32), rank=rank, dims=dims, flops=flops,
      bytes_read=output_bytes * rng.integers(1, 4, n), bytes_written=output_bytes,
      output_bytes=output_bytes, param_bytes=np.where(op_type == ops.OP_TYPE_ID["parameter"], output_bytes, 0.0),
      colocation=np.full(n, -1, np.int32), senders=senders, receivers=receivers,
      edge_bytes=output_bytes[senders])
