"""Objectives besides the step time: pipelined max-load and a step-time lower bound (numpy, float64).

Max-load is the objective of Tarnawski et al. (NeurIPS 2020), defined in
``../shared/data/README.md``: the time per sample of a pipeline whose stages
are the devices. The load of a device is the summed time of its nodes plus
communication: every node u with at least one consumer on another device
charges its transfer time once to its own device and once to each *distinct*
other device consuming it. Devices of kind ``"cpu"`` carry no communication
(as in the published evaluator). The transfer time is the graph's measured
one when present, else the copy time ``latency + bytes / bandwidth`` of the
link used (for the sender: the largest over its destinations).
"""

from __future__ import annotations

import numpy as np

from go_jax.graph import graph as graph_lib
from simulator import cluster as cluster_lib
from simulator import types


def node_times(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> np.ndarray:
  """(N, D) seconds of each unfused node on each device (measured, else roofline + launch)."""
  peak = np.asarray(cluster.peak_flops, np.float64)[None, :]
  eff = np.asarray(cluster.eff, np.float64)[graph.op_class][:, None]
  bandwidth = np.asarray(cluster.mem_bandwidth, np.float64)[None, :] * float(cluster.eff_bw)
  launch = np.asarray(cluster.launch_overhead, np.float64)[None, :]
  roofline = np.maximum(graph.flops[:, None] / (peak * eff), graph.bytes_accessed[:, None] / bandwidth) + launch
  measured = types.latency_table(graph, cluster.device_kinds)
  return np.where(measured >= 0, measured, roofline)


def max_load(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster, placement) -> float:
  """Max over devices of the pipelined load (seconds), see the module docstring.

  Args:
    graph: the graph.
    cluster: the cluster (device kinds select measured latencies).
    placement: (N,) int device per node.
  """
  placement = np.asarray(placement)
  d = cluster.num_devices
  times = node_times(graph, cluster)[np.arange(graph.num_nodes), placement]
  load = np.zeros(d)
  np.add.at(load, placement, times)
  no_comm = np.asarray([kind == "cpu" for kind in cluster.device_kinds])
  transfer = types.measured_transfer(graph)
  size = types.copy_bytes(graph)
  lat = np.asarray(cluster.link_latency, np.float64)
  bw = np.asarray(cluster.link_bandwidth, np.float64)
  sender_charge = np.zeros(graph.num_nodes)
  receivers: set[tuple[int, int]] = set()
  for u, v in zip(graph.senders.tolist(), graph.receivers.tolist()):
    su, sv = int(placement[u]), int(placement[v])
    if su != sv:
      receivers.add((u, sv))
  for u, sv in receivers:
    su = int(placement[u])
    cost = transfer[u] if transfer[u] >= 0 else lat[su, sv] + size[u] / bw[su, sv]
    sender_charge[u] = max(sender_charge[u], cost)
    if not no_comm[sv]:
      load[sv] += cost
  charge = np.where(no_comm[placement], 0.0, sender_charge)
  np.add.at(load, placement, charge)
  return float(load.max())


def lower_bound(graph: graph_lib.ComputationGraph, cluster: cluster_lib.Cluster) -> float:
  """Step-time lower bound (seconds): ``max(critical path at the fastest device, total work / D)``.

  Each node costs its time on the device where it is fastest (unfused);
  communication is free. No schedule of any placement beats this, unless
  fusion shortens the kernels themselves.
  """
  fastest = node_times(graph, cluster).min(axis=1)
  critical, _ = graph.critical_path(fastest)
  return float(max(critical, fastest.sum() / cluster.num_devices))
