"""Each family traces at a small size and has the structure of its paper model."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from go_jax import evaluation
from go_jax.graph import loading
from go_jax.graph import ops
from go_jax.workloads import cache
from go_jax.workloads import expert
from go_jax.workloads import registry
from go_jax.workloads.models import transformer_xl
from tests.workloads import conftest


def _forward_nodes(graph, fragment: str) -> list[int]:
  backward = graph.node_attrs["is_backward"]
  return [i for i, n in enumerate(graph.node_names) if fragment in n and not backward[i]]


@pytest.mark.parametrize("name", sorted(conftest.SMALL_KNOBS))
def test_small_variant_is_a_full_training_step(small_graph, name):
  record = small_graph(name)
  graph = record.graph
  assert graph.meta["workload"] == name
  assert graph.meta["family"] == registry.WORKLOADS[name].family
  backward = np.asarray(graph.node_attrs["is_backward"], bool)
  assert backward.any() and (~backward).any(), "forward and backward passes"
  assert any(n.startswith("opt_state/") for n in graph.node_names), "optimizer state is traced"
  assert graph.param_bytes.sum() > 0
  contractions = np.isin(graph.op_type, [ops.OP_TYPE_ID["dot"], ops.OP_TYPE_ID["conv"]])
  assert contractions.sum() >= 3
  # Each parameter is colocated with its optimizer slots.
  groups = graph.colocation[[i for i, n in enumerate(graph.node_names) if n.startswith("params/")]]
  assert (groups >= 0).all()
  assert np.bincount(graph.colocation[graph.colocation >= 0]).min() >= 2


def test_rnnlm_node_count_grows_linearly_with_unroll(graph_cache_dir):
  knobs = dict(conftest.SMALL_KNOBS["rnnlm_2"])
  sizes = []
  for unroll in (2, 4, 6):
    knobs["unroll"] = unroll
    sizes.append(registry.load_workload("rnnlm_2", use_cache=False, **knobs).graph.num_nodes)
  assert sizes[1] - sizes[0] == sizes[2] - sizes[1] > 0
  # Per step and layer: one cell forward + backward, so one gates matmul each way per layer.
  assert sizes[1] - sizes[0] > 2 * 2 * 20


def test_rnnlm_has_one_gates_matmul_per_layer_and_step(small_graph):
  graph = small_graph("rnnlm_2").graph
  unroll = conftest.SMALL_KNOBS["rnnlm_2"]["unroll"]
  for layer in (0, 1):
    dots = [i for i in _forward_nodes(graph, f"RNNLM/lstm_{layer}/gates/dot_general")]
    assert len(dots) == unroll


def test_gnmt_first_encoder_layer_is_bidirectional(small_graph):
  graph = small_graph("gnmt_4").graph
  unroll = conftest.SMALL_KNOBS["gnmt_4"]["unroll"]
  fw = _forward_nodes(graph, "encoder/lstm_0_fw/gates/dot_general")
  bw = _forward_nodes(graph, "encoder/lstm_0_bw/gates/dot_general")
  assert len(fw) == len(bw) == unroll
  assert not _forward_nodes(graph, "encoder/lstm_1_bw")
  for k in range(1, 4):
    assert len(_forward_nodes(graph, f"encoder/lstm_{k}/gates/dot_general")) == unroll
    assert len(_forward_nodes(graph, f"decoder/lstm_{k}/gates/dot_general")) == unroll
  # Attention is queried by the bottom decoder layer once per target step.
  assert len(_forward_nodes(graph, "decoder/attention/query_layer/dot_general")) == unroll


def test_txl_rel_shift_aligns_relative_distances():
  q_len, k_len = 3, 5  # memory of 2
  # Column m of the unshifted scores is relative distance k_len - 1 - m.
  distance = np.arange(k_len - 1, -1, -1, dtype=np.float32)
  scores = jnp.broadcast_to(jnp.asarray(distance), (1, 1, q_len, k_len))
  shifted = np.asarray(transformer_xl.rel_shift(scores))[0, 0]
  for i in range(q_len):
    for j in range(k_len):
      if j <= i + k_len - q_len:  # the causal (visible) part
        assert shifted[i, j] == (i + k_len - q_len) - j


def test_txl_memory_is_an_output_and_gradient_free(small_graph):
  graph = small_graph("txl_2").graph
  assert _forward_nodes(graph, "TransformerXL/stop_gradient") or any(
      "stop_gradient" in n for n in graph.node_names)
  per_layer = _forward_nodes(graph, "layer_0/attention/qkv/dot_general")
  assert len(per_layer) == conftest.SMALL_KNOBS["txl_2"]["num_segments"]


def test_wavenet_layers_are_dilated_causal_convs(small_graph):
  graph = small_graph("wavenet_2x18").graph
  for stack in range(2):
    for layer in range(3):
      assert _forward_nodes(graph, f"stack_{stack}/layer_{layer}/dilated/conv/conv_general_dilated")


def test_amoebanet_cells_follow_the_genotype(small_graph):
  graph = small_graph("amoebanet").graph
  # 2 stem reduction cells + 3 stages of 1 normal cell + 2 reductions = 7 cells.
  cells = {n.split("/")[1] for n in graph.node_names if n.startswith("AmoebaNet/cell_")}
  assert cells == {f"cell_{k}" for k in range(7)}
  # Normal cell: its 5 blocks have 10 ops; separable 3x3 ops hold depthwise convs.
  assert _forward_nodes(graph, "cell_2/block_1_op_0/sep/depthwise_0")


def test_unknown_workload_lists_valid_names():
  with pytest.raises(registry.UnknownWorkloadError) as err:
    registry.get_graph("gnmt_16")
  assert "gnmt_8" in str(err.value) and "rnnlm_2" in str(err.value)
  assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
  with pytest.raises(registry.UnknownWorkloadError, match="valid knobs"):
    registry.get_graph("gnmt_2", layers=3)


def test_parse_variant():
  assert registry.parse_variant("wavenet_2x18:num_stacks=1,layers_per_stack=6") == (
      "wavenet_2x18", {"num_stacks": 1, "layers_per_stack": 6})
  assert registry.parse_variant("rnnlm_2") == ("rnnlm_2", {})
  assert registry.parse_variant(" txl_2 : d_model=16 , scale=0.5, act=gelu,") == (
      "txl_2", {"d_model": 16, "scale": 0.5, "act": "gelu"})
  with pytest.raises(Exception, match="knob 'unroll' is not key=value"):
    registry.parse_variant("rnnlm_2:unroll")


def test_load_graph_takes_a_variant(graph_cache_dir, monkeypatch):
  knobs = conftest.SMALL_KNOBS["rnnlm_2"]
  direct = registry.get_graph("rnnlm_2", cache_dir=graph_cache_dir, **knobs)
  monkeypatch.setenv(cache.ENV_VAR, graph_cache_dir)
  spec = "rnnlm_2:" + ",".join(f"{k}={v}" for k, v in knobs.items())
  loaded = loading.load_graph(spec)
  assert (loaded.num_nodes, loaded.num_edges) == (direct.num_nodes, direct.num_edges)
  assert evaluation.expert_for(spec, loaded, 2).tolist() == expert.expert_placement("rnnlm_2", loaded, 2).tolist()
  with pytest.raises(Exception, match="valid knobs"):
    loading.load_graph("rnnlm_2:layers=3")


def test_registry_has_the_paper_variants():
  required = {"rnnlm_2", "rnnlm_4", "rnnlm_8", "gnmt_2", "gnmt_4", "gnmt_8", "txl_2", "txl_4", "txl_8",
              "inception_v3", "amoebanet", "wavenet_2x18", "wavenet_4x36", "resnet50", "bert_base"}
  assert required <= set(registry.list_workloads())
  assert registry.WORKLOADS["bert_base"].knobs["d_model"] == 768
  assert registry.WORKLOADS["rnnlm_8"].knobs["hidden"] >= 1024
