"""Expert placements: valid everywhere, and the documented rule where it can be checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from go_jax.graph import graph as graph_lib
from go_jax.workloads import expert
from tests.workloads import conftest


def _assert_valid(graph, placement, num_devices):
  assert placement.shape == (graph.num_nodes,)
  assert placement.dtype == np.int32
  assert placement.min() >= 0 and placement.max() < num_devices
  grouped = graph.colocation >= 0
  for group in np.unique(graph.colocation[grouped]):
    assert np.unique(placement[graph.colocation == group]).size == 1, f"colocation group {group} split"


def _devices_of(graph, placement, fragment):
  return {int(placement[i]) for i, n in enumerate(graph.node_names) if fragment in n}


@pytest.mark.parametrize("num_devices", [2, 4, 8])
@pytest.mark.parametrize("name", sorted(conftest.SMALL_KNOBS))
def test_expert_placement_is_valid(small_graph, name, num_devices):
  graph = small_graph(name).graph
  placement = expert.expert_placement(name, graph, num_devices)
  _assert_valid(graph, placement, num_devices)
  assert np.unique(placement).size >= min(2, num_devices), "an expert uses more than one device"
  # The three call forms agree.
  np.testing.assert_array_equal(placement, expert.expert_placement(graph, num_devices=num_devices))
  np.testing.assert_array_equal(placement, expert.expert_placement(name, graph, num_devices=num_devices))


@pytest.mark.parametrize("num_devices", [2, 4, 8])
def test_rnnlm_layer_k_on_device_k_plus_1_mod_d(small_graph, num_devices):
  graph = small_graph("rnnlm_2").graph
  placement = expert.expert_placement("rnnlm_2", graph, num_devices)
  # embedding -> 0, lstm_0 -> 1, lstm_1 -> 2, softmax -> 3 (mod D), forward,
  # backward and parameters alike.
  assert _devices_of(graph, placement, "embedding/") == {0}
  for k in range(2):
    assert _devices_of(graph, placement, f"lstm_{k}/") == {(k + 1) % num_devices}
  assert _devices_of(graph, placement, "softmax/") == {3 % num_devices}
  # Adam slots follow their parameter.
  assert _devices_of(graph, placement, "opt_state/1/0/mu/lstm_1/") == {2 % num_devices}


@pytest.mark.parametrize("num_devices", [2, 4, 8])
def test_gnmt_layer_k_of_encoder_and_decoder_share_a_device(small_graph, num_devices):
  graph = small_graph("gnmt_4").graph
  placement = expert.expert_placement("gnmt_4", graph, num_devices)
  expected = {  # embedding 0, layer k -> k + 1, attention 5, softmax 6 (mod D)
      "encoder_embedding/": 0, "decoder_embedding/": 0, "encoder/lstm_0_fw/": 1, "encoder/lstm_0_bw/": 1,
      "decoder/lstm_0/": 1, "encoder/lstm_3/": 4, "decoder/lstm_3/": 4, "GNMT/decoder/attention": 5,
      "params/attention/": 5, "GNMT/softmax/": 6}
  for fragment, slot in expected.items():
    assert _devices_of(graph, placement, fragment) == {slot % num_devices}, fragment


def test_transformer_blocks_are_contiguous(small_graph):
  graph = small_graph("bert_base").graph  # 2 layers
  placement = expert.expert_placement("bert_base", graph, 2)
  assert _devices_of(graph, placement, "Bert/layer_0/") == {0}
  assert _devices_of(graph, placement, "Bert/layer_1/") == {1}
  assert _devices_of(graph, placement, "Bert/mlm_head/") == {1}
  assert _devices_of(graph, placement, "params/word_embeddings/") == {0}


def test_wavenet_stacks_split_across_devices(small_graph):
  graph = small_graph("wavenet_2x18").graph
  placement = expert.expert_placement("wavenet_2x18", graph, 2)
  assert _devices_of(graph, placement, "stack_0/") == {0}
  assert _devices_of(graph, placement, "stack_1/") == {1}
  assert _devices_of(graph, placement, "input_conv/") == {0}
  assert _devices_of(graph, placement, "postprocess/") == {1}


@pytest.mark.parametrize("name", ["resnet50", "inception_v3", "amoebanet"])
def test_vision_stages_are_contiguous_and_balanced(small_graph, name):
  graph = small_graph(name).graph
  placement = expert.expert_placement(name, graph, 4)
  assert _devices_of(graph, placement, "/stem/") == {0}
  assert _devices_of(graph, placement, "/head/") == {3}
  # The blocks of the chain, in forward order, sit on non-decreasing devices.
  chain = {
      "resnet50": ["stem"] + [f"block_{k}" for k in range(16)] + ["head"],
      "inception_v3": ["stem", "mixed_5b", "mixed_5c", "mixed_5d", "mixed_6a", "mixed_6b", "mixed_6c",
                       "mixed_6d", "mixed_6e", "mixed_7a", "mixed_7b", "mixed_7c", "head"],
      "amoebanet": ["stem"] + [f"cell_{k}" for k in range(7)] + ["head"],
  }[name]
  devices = []
  for unit in chain:
    (device,) = _devices_of(graph, placement, f"/{unit}/")
    devices.append(device)
  assert devices == sorted(devices) and devices[0] == 0 and devices[-1] == 3
  # Every stage gets work, and none more than half of the total.
  loads = np.bincount(placement, weights=graph.flops, minlength=4)
  assert (loads > 0).all() and loads.max() < 0.5 * loads.sum()


def test_balanced_partition_by_hand():
  # Optimal contiguous split of [5, 1, 1, 1, 5, 1] into 3: [5], [1, 1, 1], [5, 1] -> max 6.
  parts = expert.balanced_partition(np.array([5, 1, 1, 1, 5, 1.0]), 3)
  np.testing.assert_array_equal(parts, [0, 1, 1, 1, 2, 2])
  np.testing.assert_array_equal(expert.balanced_partition(np.ones(2), 4), [0, 1])


def test_complete_placement_fills_from_neighbours_and_colocates():
  builder = graph_lib.GraphBuilder("toy")
  a = builder.add_node("params/w", "parameter", colocation=0)  # no layer: from its consumer
  b = builder.add_node("M/layer_1/dot", "dot")
  c = builder.add_node("glue", "elementwise")  # no layer: from its producer
  d = builder.add_node("opt_state/mu/w", "parameter", colocation=0)
  for src, dst in ((a, b), (b, c), (d, c)):
    builder.add_edge(src, dst, 4.0)
  graph = builder.build()
  placement = expert.complete_placement(graph, np.array([-1, 3, -1, -1]))
  np.testing.assert_array_equal(placement, [3, 3, 3, 3])


def test_bad_arguments():
  with pytest.raises(ValueError, match="num_devices"):
    expert.expert_placement("rnnlm_2", graph=None, num_devices=0)
  with pytest.raises(KeyError, match="valid workloads"):
    expert.expert_placement("lenet", num_devices=2)
