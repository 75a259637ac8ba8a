"""Tests of the dnn-partitioning and PipeDream importers and of format detection."""

import glob
import json
import os

import numpy as np
import pytest

from go_jax.graph import dnn_partitioning
from go_jax.graph import graph as graph_lib
from go_jax.graph import loading
from go_jax.graph import pipedream
from tests import shared_data

TINY_DNN = {
    "maxSizePerFPGA": 1000.0, "maxFPGAs": 2, "maxCPUs": 1,
    "nodes": [
        {"id": 5, "name": "MatMul_1", "supportedOnFpga": 1, "cpuLatency": 10.0, "fpgaLatency": 2.0,
         "isBackwardNode": 0, "colorClass": 3, "size": 100.0},
        {"id": 2, "name": "input", "supportedOnFpga": 0, "cpuLatency": 1.0, "fpgaLatency": 0.5,
         "isBackwardNode": 0, "size": 0.0},
        {"id": 9, "name": "MatMul_1_Grad/Gemm_2", "supportedOnFpga": 1, "cpuLatency": 20.0,
         "fpgaLatency": 4.0, "isBackwardNode": 1, "colorClass": 3, "size": 50.0},
    ],
    "edges": [
        {"sourceId": 2, "destId": 5, "cost": 0.25, "size": 64.0},
        {"sourceId": 5, "destId": 9, "cost": 0.5, "size": 128.0},
    ],
}


def write(tmp_path, name, content):
  path = tmp_path / name
  path.write_text(content if isinstance(content, str) else json.dumps(content))
  return str(path)


def test_tiny_dnn_partitioning_by_hand(tmp_path):
  g = dnn_partitioning.load(write(tmp_path, "tiny.json", TINY_DNN))
  # Nodes ordered by file id: 2 (input), 5 (MatMul_1), 9 (grad).
  assert g.node_names == ("input", "MatMul_1", "MatMul_1_Grad/Gemm_2")
  assert [g.op_type_name(i) for i in range(3)] == ["parameter", "dot", "dot"]
  np.testing.assert_allclose(g.latency["accelerator"], [0.0005, 0.002, 0.004])  # ms -> s
  np.testing.assert_allclose(g.latency["cpu"], [0.001, 0.010, 0.020])
  assert g.param_bytes.tolist() == [0.0, 100.0, 50.0]
  assert g.colocation.tolist() == [-1, 3, 3]
  assert g.senders.tolist() == [0, 1] and g.receivers.tolist() == [1, 2]
  assert g.edge_bytes.tolist() == [64.0, 128.0]
  np.testing.assert_allclose(g.transfer_time, [0.00025, 0.0005])
  assert g.output_bytes.tolist() == [64.0, 128.0, 0.0]
  assert g.node_attrs["is_backward"].tolist() == [False, False, True]
  assert g.node_attrs["supported_on_accelerator"].tolist() == [False, True, True]
  assert g.meta["max_accelerators"] == 2 and g.meta["memory_per_accelerator"] == 1000.0


def test_tiny_expert_split(tmp_path):
  g = dnn_partitioning.load(write(tmp_path, "tiny.json", TINY_DNN))
  split = {"fpgas": [{"nodes": [5]}, {"nodes": [9]}], "cpus": [{"nodes": [2]}]}
  devices = dnn_partitioning.load_expert_split(write(tmp_path, "e.json", split), g)
  assert devices.tolist() == [2, 0, 1]  # CPU is device 2 = max_accelerators
  bad = {"fpgas": [{"nodes": [5, 77]}], "cpus": [{"nodes": [2, 9]}]}
  with pytest.raises(graph_lib.GraphError, match="lists node id 77"):
    dnn_partitioning.load_expert_split(write(tmp_path, "bad.json", bad), g)
  missing = {"fpgas": [{"nodes": [5]}], "cpus": [{"nodes": [2]}]}
  with pytest.raises(graph_lib.GraphError, match="node id 9 is not placed"):
    dnn_partitioning.load_expert_split(write(tmp_path, "miss.json", missing), g)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["edges"].append({"sourceId": 5, "destId": 99, "cost": 1.0}), "destId 99 is not a node id"),
    (lambda d: d["nodes"][0].pop("fpgaLatency"), "node id 5: missing field 'fpgaLatency'"),
    (lambda d: d["nodes"][0].update(cpuLatency="fast"), "field 'cpuLatency' is 'fast', not a number"),
    (lambda d: d["nodes"][0].update(size=-1.0), "field 'size' is -1.0"),
    (lambda d: d["edges"].append({"sourceId": 9, "destId": 2, "cost": 1.0}), "has a cycle"),
    (lambda d: d.update(nodes=[], edges=[]), "graph is empty"),
    (lambda d: d["nodes"].append(dict(d["nodes"][0])), "duplicate node id 5"),
])
def test_dnn_partitioning_bad_input(tmp_path, mutate, message):
  data = json.loads(json.dumps(TINY_DNN))
  mutate(data)
  path = write(tmp_path, "bad.json", data)
  with pytest.raises(graph_lib.GraphError, match=message) as info:
    dnn_partitioning.load(path)
  assert str(info.value).startswith(path) and "\n" not in str(info.value)


def test_dnn_partitioning_malformed_and_truncated_json(tmp_path):
  text = json.dumps(TINY_DNN, indent=1)
  path = write(tmp_path, "trunc.json", text[: len(text) // 2])
  with pytest.raises(graph_lib.GraphError, match=r"trunc.json:\d+: invalid JSON"):
    dnn_partitioning.load(path)


TINY_PIPEDREAM = """\
node1 -- Input0 -- forward_compute_time=0.000, backward_compute_time=0.000, activation_size=100.0, parameter_size=0.000
node2 -- Conv2d(3, 8, kernel_size=(3, 3)) -- forward_compute_time=2.000, backward_compute_time=3.000, activation_size=400.0, parameter_size=864.000
node3 -- LSTM(8, 8) -- forward_compute_time=1.500, backward_compute_time=0.500, activation_size=[10.0; 20.0; 30.0], parameter_size=2176.000
node4 -- FancyNewLayer(1) -- forward_compute_time=0.100, backward_compute_time=0.100, activation_size=4.0, parameter_size=0.000
\tnode1 -- node2
\tnode2 -- node3
\tnode2 -- node4
\tnode3 -- node4
"""


def test_tiny_pipedream_by_hand(tmp_path):
  warnings = []
  g = pipedream.load(write(tmp_path, "graph.txt", TINY_PIPEDREAM), warn=warnings.append)
  assert [g.op_type_name(i) for i in range(4)] == ["parameter", "conv", "recurrent", "other"]
  assert len(warnings) == 1 and "FancyNewLayer" in warnings[0]
  np.testing.assert_allclose(g.latency["gpu"], [0.0, 0.005, 0.002, 0.0002])  # (fwd + bwd) ms -> s
  np.testing.assert_allclose(g.node_attrs["backward_time"], [0.0, 0.003, 0.0005, 0.0001])
  assert g.output_bytes.tolist() == [100.0, 400.0, 60.0, 4.0]  # LSTM: 10 + 20 + 30
  assert g.param_bytes.tolist() == [0.0, 864.0, 2176.0, 0.0]
  assert list(zip(g.senders.tolist(), g.receivers.tolist(), g.edge_bytes.tolist())) == [
      (0, 1, 100.0), (1, 2, 400.0), (1, 3, 400.0), (2, 3, 60.0)]
  assert g.levels.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("content,message", [
    ("node1 -- Input0 -- forward_compute_time=0.0\n", r"graph.txt:1: node node1 is missing backward_compute_time"),
    (TINY_PIPEDREAM + "\tnode4 -- node9\n", r"graph.txt:\d+: edge node4 -> node9 names undefined node node9"),
    (TINY_PIPEDREAM + "garbage line\n", r"graph.txt:\d+: cannot parse line 'garbage line'"),
    (TINY_PIPEDREAM.replace("activation_size=400.0", "activation_size=lots"), r"graph.txt:2: activation_size='lots'"),
    (TINY_PIPEDREAM + "\tnode4 -- node2\n", "has a cycle"),
    ("\n\n", "file is empty"),
])
def test_pipedream_bad_input(tmp_path, content, message):
  with pytest.raises(graph_lib.GraphError, match=message):
    pipedream.load(write(tmp_path, "graph.txt", content))


def all_shared_files():
  root = shared_data.SHARED_DATA
  files = sorted(glob.glob(os.path.join(root, "dnn-partitioning", "*-inputs", "*", "*.json")))
  files += sorted(glob.glob(os.path.join(root, "pipedream", "*", "graph.txt")))
  return files or [None]


@pytest.mark.parametrize("path", all_shared_files(), ids=lambda p: p and os.path.relpath(p, shared_data.SHARED_DATA))
def test_every_shared_file_loads(path):
  if path is None:
    shared_data.path("dnn-partitioning")  # skips with a reason
  g = loading.load_graph(path)
  assert g.num_nodes > 10 and g.num_edges > 10
  assert g.latency and all(np.all(np.nan_to_num(v) >= 0) for v in g.latency.values())


def test_expert_splits_load_for_their_graphs():
  root = shared_data.path("dnn-partitioning")
  for expert in sorted(glob.glob(os.path.join(root, "human-experts", "*_expert.json"))):
    model = os.path.basename(expert).replace("_expert.json", "")
    g = dnn_partitioning.load(os.path.join(root, "throughput-inputs", "LayerGraphs", model + ".json"))
    devices = dnn_partitioning.load_expert_split(expert, g)
    assert devices.min() >= 0 and devices.max() <= g.meta["max_accelerators"]


def test_max_load_of_expert_split_matches_published_value():
  """Recomputes resnet50_inference's published max-load (43.9183) by the README's rule.

  This is an importer check (units, edge costs, split mapping); the simulator's
  own max-load objective has its own conformance test.
  """
  root = shared_data.path("dnn-partitioning")
  g = dnn_partitioning.load(os.path.join(root, "throughput-inputs", "LayerGraphs", "resnet50_inference.json"))
  devices = dnn_partitioning.load_expert_split(os.path.join(root, "human-experts", "resnet50_inference_expert.json"), g)
  accelerators = g.meta["max_accelerators"]
  load = np.zeros(accelerators + 1)
  for i in range(g.num_nodes):
    load[devices[i]] += (g.latency["accelerator"] if devices[i] < accelerators else g.latency["cpu"])[i]
  for u in range(g.num_nodes):
    out = g.out_edges(u)
    remote = {int(devices[g.receivers[e]]) for e in out} - {int(devices[u])}
    if remote and devices[u] < accelerators:
      cost = g.transfer_time[out[0]]
      load[devices[u]] += cost
      for d in remote:
        load[d] += cost if d < accelerators else 0.0
  assert load.max() / dnn_partitioning.MS == pytest.approx(43.9183, abs=1e-3)


def test_format_detection(tmp_path):
  assert loading.detect_format(write(tmp_path, "a.json", TINY_DNN)).name == "dnn-partitioning"
  assert loading.detect_format(write(tmp_path, "graph.txt", TINY_PIPEDREAM)).name == "pipedream"
  assert loading.detect_format(write(tmp_path, "m.txt", "HloModule jit_f\n\nENTRY main {\n}\n")).name == "hlo"
  with pytest.raises(graph_lib.GraphError, match="unrecognised graph format"):
    loading.detect_format(write(tmp_path, "x.txt", "hello"))
  with pytest.raises(graph_lib.GraphError, match="file is empty"):
    loading.detect_format(write(tmp_path, "e.json", ""))
  folder = tmp_path / "model"
  folder.mkdir()
  write(folder, "graph.txt", TINY_PIPEDREAM)
  assert loading.load_file(str(folder)).num_nodes == 4
