"""Small graphs, clusters and random DAGs for the simulator tests (dyadic costs: exact in float32)."""

from __future__ import annotations

import numpy as np

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib

# On unit_cluster a node with f FLOPs and b bytes accessed takes max(f, b / 2**20) + launch s.
BIG_BANDWIDTH = float(2**20)


def unit_cluster(num_devices: int = 2, latency: float = 1.0, bandwidth: float = 1.0,
                 mem_bandwidth: float = BIG_BANDWIDTH, capacity: float = 1e6, launch: float = 0.0,
                 eff=1.0, eff_bw: float = 1.0, kind: str = "gpu") -> cluster_lib.Cluster:
  """Peak 1 FLOP/s devices: a node's time is its FLOPs (plus launch), copies ``latency + bytes / bandwidth``."""
  return cluster_lib.make_cluster("unit", kind, [1.0] * num_devices, mem_bandwidth, capacity, launch,
                                  latency, bandwidth, eff, eff_bw)


def build(nodes, edges, name="hand") -> graph_lib.ComputationGraph:
  """nodes: list of dicts for GraphBuilder.add_node (name, op_type, ...); edges: (src, dst, bytes)."""
  builder = graph_lib.GraphBuilder(name)
  for spec in nodes:
    spec = dict(spec)
    builder.add_node(spec.pop("name"), spec.pop("op_type", "elementwise"), **spec)
  for edge in edges:
    builder.add_edge(*edge)
  return builder.build()


def node(name, flops=1.0, out=0.0, op_type="elementwise", **kw):
  """A node with ``flops`` FLOPs, ``out`` output bytes (written), nothing read."""
  return dict(name=name, op_type=op_type, flops=flops, output_bytes=out, bytes_read=0.0, **kw)


_OP_TYPES = ("dot", "conv", "elementwise", "transcendental", "reduce", "reshape", "parameter")


def random_dag(rng: np.random.Generator, num_nodes: int, edge_prob: float = 0.3, window: int = 6,
               measured_prob: float = 0.0, transfer_prob: float = 0.0) -> graph_lib.ComputationGraph:
  """A random DAG with small dyadic costs (multiples of 1/4), edges only to the next ``window`` ids."""
  builder = graph_lib.GraphBuilder("random")
  for i in range(num_nodes):
    latency = {}
    if rng.random() < measured_prob:
      latency = {"gpu": float(rng.integers(1, 9)) / 4}
    out = float(rng.integers(0, 9))
    builder.add_node(f"n{i}", str(rng.choice(_OP_TYPES)), flops=float(rng.integers(0, 9)) / 4,
                     bytes_read=float(rng.integers(0, 9)), output_bytes=out,
                     param_bytes=float(rng.integers(0, 3)) * 8, latency=latency)
  for j in range(1, num_nodes):
    lo = max(0, j - window)
    producers = [i for i in range(lo, j) if rng.random() < edge_prob]
    if not producers and rng.random() < 0.8:
      producers = [int(rng.integers(lo, j))]
    for i in producers:
      transfer = float(rng.integers(1, 9)) / 4 if rng.random() < transfer_prob else None
      builder.add_edge(i, j, float(rng.integers(0, 9)), transfer)
  return builder.build()


def random_cluster(rng: np.random.Generator, num_devices: int) -> cluster_lib.Cluster:
  """Dyadic random cluster: memory-bound or compute-bound nodes, contended links, some OOM."""
  d = num_devices
  return cluster_lib.make_cluster(
      "random", "gpu", [1.0] * d, float(rng.choice([1.0, 4.0, 16.0])), float(rng.choice([40.0, 80.0, 1e6])),
      float(rng.choice([0.0, 0.25])), rng.choice([0.0, 0.25, 1.0], size=(d, d)),
      rng.choice([0.5, 1.0, 2.0, 4.0], size=(d, d)), rng.choice([0.5, 1.0], size=6), float(rng.choice([0.5, 1.0])))
