"""Padded, static-shape views of a graph: size buckets and GNN inputs (the simulator pads with `simulator.types.to_sim_graph`).

Graphs are padded to *size buckets* (:func:`bucket_size`: powers of two from
:data:`MIN_BUCKET` up to :data:`FINE_BUCKETS_FROM`, then four buckets per
octave, so padding wastes at most 25% instead of 50%) so that one XLA
compilation serves every graph whose size falls in the same bucket. Padding
nodes and edges are marked by masks.

GNN node features (``nodes["features"]``, float32, ``NUM_NODE_FEATURES``
columns; every count or size ``x`` enters as ``log1p(x) / LOG_SCALE`` so that
values stay O(1) from scalars to 80k-node models):

====  =====================================================================
 col  feature
====  =====================================================================
 0    FLOPs
 1    bytes read
 2    bytes written
 3    output bytes
 4    parameter bytes
 5    output elements
 6-9  last four output dims, right-aligned (0 where the rank is smaller)
 10   rank / MAX_RANK
 11   in-degree
 12   out-degree
 13   level / (depth - 1): relative position in the longest-path layering
 14   1 if the node carries a measured latency, else 0
 15   measured latency in microseconds (first latency kind, sorted by name)
====  =====================================================================

Integer node inputs are separate so the network can embed them:
``nodes["op_type"]`` (vocabulary id), ``nodes["dtype"]`` (dtype id) and
``nodes["topo_rank"]`` (position in the graph's topological order).
Edge features (``edges["features"]``): ``[log1p(bytes) / LOG_SCALE,
has measured transfer time]``. Global features (``globals["features"]``):
``[log1p(num nodes), log1p(total FLOPs), log1p(depth)] / LOG_SCALE``.

Cluster context (``globals["cluster"]``, :func:`cluster_features`): what the graph
asks of the devices it may use, so that one pretrained policy can tell a graph
that fits on one device from one that must be split. Zeros (column 3 = 0,
"unknown") unless the caller passes it; the network reads it only with
``model.cluster_context`` on.

====  =====================================================================
 col  cluster feature
====  =====================================================================
 0    log2(devices) / 3 (0 for one device, 1 for eight)
 1    log2(single-device peak memory / one device's capacity) / 8, clipped
      to [-1, 1]: > 0 when the whole graph does not fit on one device
 2    log2(single-device peak memory / (devices x capacity)) / 8, clipped
      to [-1, 1]: > 0 when even a perfect split cannot fit
 3    as column 1 with every op fused (``fuse_all``): fusion frees the
      tensors inside a kernel but holds a kernel's inputs for all of it,
      so it can go either way (rnnlm_2: 10.3 GiB unfused, 34.8 GiB fused)
 4    1 when columns 1-3 are known, else 0
====  =====================================================================
"""

from __future__ import annotations


import jraph
import numpy as np

from go_jax.graph import graph as graph_lib

MIN_BUCKET = 64
#: Above this size, buckets are multiples of a quarter octave (every bucket stays a multiple of 256).
FINE_BUCKETS_FROM = 1024
LOG_SCALE = 20.0
NUM_NODE_FEATURES = 16
NUM_EDGE_FEATURES = 2
NUM_GLOBAL_FEATURES = 3
NUM_CLUSTER_FEATURES = 5


def bucket_size(count: int, minimum: int = MIN_BUCKET) -> int:
  """The padded size for ``count`` items.

  The smallest power of two >= ``max(count, minimum)`` up to
  :data:`FINE_BUCKETS_FROM`; above it the smallest multiple of a quarter
  octave, i.e. of ``2**(k - 2)`` for sizes in ``(2**k, 2**(k + 1)]``
  (1280, 1536, 1792, 2048, 2560, ...; 10,000 -> 10,240 and 80,000 -> 81,920).
  """
  size = max(int(count), int(minimum), 1)
  power = 1 << (size - 1).bit_length()
  if power <= FINE_BUCKETS_FROM:
    return power
  step = power >> 3  # a quarter of the octave (power / 2, power]
  return -(-size // step) * step


def _log(x) -> np.ndarray:
  return (np.log1p(np.asarray(x, np.float64)) / LOG_SCALE).astype(np.float32)


def node_features(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N, NUM_NODE_FEATURES) float32 node features, documented in the module docstring."""
  n = graph.num_nodes
  feats = np.zeros((n, NUM_NODE_FEATURES), np.float32)
  feats[:, 0] = _log(graph.flops)
  feats[:, 1] = _log(graph.bytes_read)
  feats[:, 2] = _log(graph.bytes_written)
  feats[:, 3] = _log(graph.output_bytes)
  feats[:, 4] = _log(graph.param_bytes)
  dims = graph.dims.astype(np.float64)
  rank = graph.rank
  col = np.arange(graph_lib.MAX_RANK)[None, :]
  elements = np.where(col < rank[:, None], dims, 1.0).prod(axis=1)
  feats[:, 5] = _log(elements)
  for j in range(4):  # j-th dim from the end
    idx = rank - 1 - j
    valid = idx >= 0
    vals = np.zeros(n)
    vals[valid] = dims[np.flatnonzero(valid), idx[valid]]
    feats[:, 9 - j] = _log(vals)
  feats[:, 10] = rank / graph_lib.MAX_RANK
  feats[:, 11] = _log(graph.in_degree)
  feats[:, 12] = _log(graph.out_degree)
  feats[:, 13] = graph.levels / max(graph.depth - 1, 1)
  if graph.latency:
    first = graph.latency[sorted(graph.latency)[0]]
    known = ~np.isnan(first)
    feats[:, 14] = known
    feats[:, 15] = _log(np.where(known, first, 0.0) * 1e6)
  return feats


def cluster_features(num_devices: int, capacity: float, need: tuple[float, float] | None = None) -> np.ndarray:
  """(NUM_CLUSTER_FEATURES,) float32 cluster context of one graph (module docstring).

  Args:
    num_devices: devices the graph's placement may use (>= 1).
    capacity: bytes of memory of one of them (the smallest).
    need: bytes the whole graph needs on one device, unfused and with every op
      fused (the simulator's ``peak_memory``; ``go_jax.rl.rewards.MemoryNeed``), or
      None when unknown.

  Raises:
    ValueError: on a non-positive device count, capacity or need.
  """
  if num_devices < 1 or not capacity > 0:
    raise ValueError(f"cluster_features: need num_devices >= 1 and capacity > 0, got {num_devices}, {capacity}")
  out = np.zeros(NUM_CLUSTER_FEATURES, np.float32)
  out[0] = np.log2(num_devices) / 3.0
  if need is not None:
    unfused, fused = (float(x) for x in need)
    if not (unfused > 0 and fused > 0):
      raise ValueError(f"cluster_features: memory needs must be > 0 bytes, got {need}")
    scaled = lambda ratio: np.clip(np.log2(ratio) / 8.0, -1.0, 1.0)  # noqa: E731
    out[1] = scaled(unfused / capacity)
    out[2] = scaled(unfused / (num_devices * capacity))
    out[3] = scaled(fused / capacity)
    out[4] = 1.0
  return out


def to_graphs_tuple(graph: graph_lib.ComputationGraph, num_nodes: int | None = None,
                    num_edges: int | None = None, cluster: np.ndarray | None = None) -> jraph.GraphsTuple:
  """Converts ``graph`` to a padded single-graph ``jraph.GraphsTuple`` (numpy leaves).

  Args:
    graph: the graph.
    num_nodes: padded node count; defaults to the bucket of ``N + 1`` (jraph
      padding needs at least one padding node).
    num_edges: padded edge count; defaults to the bucket of ``E``.
    cluster: (NUM_CLUSTER_FEATURES,) :func:`cluster_features` for ``globals["cluster"]``
      (default zeros: unknown).

  Returns:
    A GraphsTuple with ``n_node = [N, num_nodes - N]`` (the second graph is
    padding, see ``jraph.get_node_padding_mask``) and the node, edge and global
    features documented in this module.
  """
  n, e = graph.num_nodes, graph.num_edges
  num_nodes = bucket_size(n + 1) if num_nodes is None else num_nodes
  num_edges = bucket_size(e) if num_edges is None else num_edges
  if num_nodes < n + 1 or num_edges < e:
    raise ValueError(f"cannot pad a graph of {n} nodes / {e} edges to {num_nodes} / {num_edges} "
                     "(need num_nodes > N and num_edges >= E)")
  topo_rank = np.empty(n, np.int32)
  topo_rank[graph.topological_order] = np.arange(n, dtype=np.int32)
  edge_feats = np.zeros((e, NUM_EDGE_FEATURES), np.float32)
  edge_feats[:, 0] = _log(graph.edge_bytes)
  if graph.transfer_time is not None:
    edge_feats[:, 1] = ~np.isnan(graph.transfer_time)
  single = jraph.GraphsTuple(
      nodes={"features": node_features(graph), "op_type": graph.op_type.copy(),
             "dtype": graph.dtype.copy(), "topo_rank": topo_rank},
      edges={"features": edge_feats},
      senders=graph.senders.copy(), receivers=graph.receivers.copy(),
      n_node=np.asarray([n], np.int32), n_edge=np.asarray([e], np.int32),
      globals={"features": _log([[n, graph.flops.sum(), graph.depth]]),
               "cluster": (np.zeros((1, NUM_CLUSTER_FEATURES), np.float32) if cluster is None
                           else np.asarray(cluster, np.float32).reshape(1, NUM_CLUSTER_FEATURES))})
  return jraph.pad_with_graphs(single, n_node=num_nodes, n_edge=num_edges, n_graph=2)
