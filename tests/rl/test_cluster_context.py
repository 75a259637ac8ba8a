"""The policy's cluster context (devices and memory need) and memory-pressure pretraining batches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import pretrain_test as pretrain_test_config
from go_jax import errors
from go_jax.baselines import placement as placement_lib
from go_jax.graph import features
from go_jax.graph import synthetic
from go_jax.models import config as model_config
from go_jax.models import gnn
from go_jax.rl import config as rl_config
from go_jax.rl import iteration
from go_jax.rl import pretrain
from go_jax.rl import pretrained
from go_jax.rl import rewards
from go_jax.rl import toy_graphs
import simulator
from simulator import cluster as cluster_lib
from simulator import objectives

GIB = 2.0 ** 30


def test_cluster_features_by_hand():
  # 4 devices of 16 GiB, a graph needing 48 GiB on one unfused and 8 GiB fused:
  # log2(3) / 8, log2(3 / 4) / 8 and log2(1 / 2) / 8.
  np.testing.assert_allclose(features.cluster_features(4, 16 * GIB, (48 * GIB, 8 * GIB)),
                             [2 / 3, np.log2(3) / 8, np.log2(0.75) / 8, -1 / 8, 1.0], rtol=1e-6)
  # One device: column 0 is 0; a 2**-10 need is clipped at -1; unknown need: zeros and flag 0.
  np.testing.assert_allclose(features.cluster_features(1, 16 * GIB, (16 * GIB / 1024, 16 * GIB)),
                             [0, -1, -1, 0, 1])
  np.testing.assert_array_equal(features.cluster_features(8, 16 * GIB), [1, 0, 0, 0, 0])
  with pytest.raises(ValueError, match="num_devices >= 1 and capacity > 0"):
    features.cluster_features(0, 16 * GIB)
  with pytest.raises(ValueError, match=r"memory needs must be > 0 bytes, got \(1.0, 0.0\)"):
    features.cluster_features(2, 16 * GIB, (1.0, 0.0))


def test_graphs_tuple_carries_the_context_in_globals():
  graph = toy_graphs.parallel_chains()
  plain = features.to_graphs_tuple(graph, 64, 64)
  assert plain.globals["cluster"].shape == (2, features.NUM_CLUSTER_FEATURES)
  assert not np.any(plain.globals["cluster"])
  context = features.cluster_features(2, GIB, (3 * GIB, 2 * GIB))
  given = features.to_graphs_tuple(graph, 64, 64, context)
  np.testing.assert_array_equal(given.globals["cluster"][0], context)
  assert not np.any(given.globals["cluster"][1])  # the padding graph
  np.testing.assert_array_equal(given.nodes["features"], plain.nodes["features"])


def test_encoder_reads_the_context_only_when_asked():
  graph = toy_graphs.parallel_chains()
  low = features.to_graphs_tuple(graph, 64, 64, features.cluster_features(4, GIB, (0.1 * GIB, 0.1 * GIB)))
  high = features.to_graphs_tuple(graph, 64, 64, features.cluster_features(4, GIB, (30 * GIB, 30 * GIB)))
  for on in (False, True):
    encoder = gnn.GraphEncoder(16, 4, 1, cluster_context=on)
    params = encoder.init(jax.random.PRNGKey(0), low)
    inputs = params["params"]["context"]["kernel"].shape[0]
    assert inputs == 16 + features.NUM_GLOBAL_FEATURES + on * features.NUM_CLUSTER_FEATURES
    a, b = encoder.apply(params, low), encoder.apply(params, high)
    np.testing.assert_array_equal(a.node_embeddings, b.node_embeddings)  # nodes never see it
    assert bool(jnp.any(a.context != b.context)) == on
  # context_to_nodes: every real node's input embedding gets the context too (padding stays 0).
  for on in (False, True):
    encoder = gnn.GraphEncoder(16, 4, 1, cluster_context=on, context_to_nodes=True)
    params = encoder.init(jax.random.PRNGKey(0), low)
    assert ("cluster_proj" in params["params"]) == on  # read only with the context on
    a, b = encoder.apply(params, low), encoder.apply(params, high)
    real = graph.num_nodes
    assert bool(jnp.all(jnp.any(a.node_embeddings[:real] != b.node_embeddings[:real], axis=-1))) == on
    np.testing.assert_array_equal(a.node_embeddings[real:], 0.0)


def test_reference_reports_the_single_device_memory_need():
  graph = synthetic.generate(3, 200, "residual")
  cluster = cluster_lib.get_cluster("v100x4")
  ref = rewards.reference(graph, cluster, 4)
  single = simulator.default_decisions(graph.num_nodes, placement_lib.single_device(graph, 4))
  unfused, _ = simulator.simulate_reference(graph, cluster, single)
  fused, _ = simulator.simulate_reference(graph, cluster, single._replace(fusion=np.ones(graph.num_nodes, bool)))
  assert ref.memory == pytest.approx((float(np.max(unfused.peak_memory)), float(np.max(fused.peak_memory))))
  assert ref.memory.fused != ref.memory.unfused
  assert rewards.memory_need(graph, cluster, 4) == ref.memory
  assert rewards.reference_step_time(graph, cluster, 4) == (ref.step_time, ref.name)


def test_make_graph_batch_fills_the_context():
  graph = toy_graphs.parallel_chains()
  cluster = cluster_lib.get_cluster("v100x4")
  needs = [(GIB, 0.5 * GIB), (2 * GIB, 3 * GIB)]
  batch = iteration.make_graph_batch([graph, graph], cluster, [2, 4], [1.0, 1.0], memory_needs=needs)
  capacity = float(cluster.mem_capacity[0])
  np.testing.assert_allclose(batch.graphs.globals["cluster"][:, 0], [features.cluster_features(2, capacity, needs[0]),
                                                                      features.cluster_features(4, capacity, needs[1])])
  unknown = iteration.make_graph_batch([graph], cluster, 4, [1.0])
  np.testing.assert_array_equal(unknown.graphs.globals["cluster"][0, 0], features.cluster_features(4, capacity))
  with pytest.raises(ValueError, match="memory_needs has 1 entries for 2 graphs"):
    iteration.make_graph_batch([graph, graph], cluster, 4, [1.0, 1.0], memory_needs=[(GIB, GIB)])


def _config(**overrides):
  config = pretrain_test_config.get_config()
  for name, value in overrides.items():
    config[name] = value
  return config


def test_memory_pressure_batches_cannot_fit_on_one_device():
  # Recurrent graphs split well across 4 or 8 devices (a contiguous split needs ~0.4-0.6x one
  # device's peak), not across 2. One graph per batch (bucket 256, 256 nodes per batch).
  graphs = {g.name: g for g in (synthetic.generate(1, 60, "recurrent", name="a"),
                                synthetic.generate(2, 70, "recurrent", name="b"))}
  training_set = [pretrain.TrainingGraph(g, "toy", "shared") for g in graphs.values()]
  sampler = pretrain.BatchSampler(_config(memory_pressure=1.0, synthetic_fraction=0.0, buckets="256"),
                                  training_set, 8)
  squeezed = 0
  for step in range(12):
    batch, info = sampler.sample(step)
    preset, _, tag = info.cluster.partition("@")
    base = cluster_lib.get_cluster(preset)
    capacity = info.mem_capacity
    if capacity is None:  # the graph has no simple split below 0.9x its need
      np.testing.assert_allclose(batch.cluster.mem_capacity, base.mem_capacity, rtol=1e-6)
      graph, devices = graphs[info.names[0]], info.num_devices[0]
      need = min(rewards.memory_need(graph, base, devices))
      split, _ = simulator.simulate_reference(graph, base, simulator.default_decisions(
          graph.num_nodes, placement_lib.contiguous(graph, devices, objectives.node_times(graph, base).min(axis=1))))
      assert np.max(split.peak_memory) > 0.9 * need
      continue
    squeezed += 1
    assert tag == f"{capacity:.6g}B"
    np.testing.assert_allclose(batch.cluster.mem_capacity, capacity, rtol=1e-6)  # float32 in the batch
    cut = base.replace(mem_capacity=np.full(base.num_devices, capacity))
    needs = [rewards.memory_need(graphs[name], base, d) for name, d in zip(info.names, info.num_devices)]
    peaks = [min(need) for need in needs]  # the smaller of unfused and fused
    assert capacity < max(peaks)
    for index, (name, devices) in enumerate(zip(info.names, info.num_devices)):
      graph = graphs[name]
      context = batch.graphs.globals["cluster"][index, 0]
      np.testing.assert_allclose(context, features.cluster_features(devices, capacity, needs[index]), rtol=1e-5)
      ref = rewards.reference(graph, cut, devices)
      assert batch.reference_step_time[index] == pytest.approx(ref.step_time, rel=1e-6)
      if peaks[index] == max(peaks):
        assert context[1] > 0 and context[3] > 0  # the context says: does not fit on one device
        single = simulator.default_decisions(graph.num_nodes, placement_lib.single_device(graph, devices))
        for fusion in (False, True):  # neither unfused nor fused
          result, _ = simulator.simulate_reference(graph, cut, single._replace(
              fusion=np.full(graph.num_nodes, fusion)))
          assert np.any(result.oom)
        # ... while the reference's contiguous split fits, and so is the reference.
        split, _ = simulator.simulate_reference(graph, cut, simulator.default_decisions(
            graph.num_nodes, placement_lib.contiguous(graph, devices, objectives.node_times(graph, base).min(axis=1))))
        assert not np.any(split.oom) and ref.name == "contiguous"
  assert squeezed >= 2


def test_memory_pressure_off_leaves_batches_unchanged():
  config = _config()
  assert "memory_pressure" in config and config.memory_pressure == 0.0
  before = _config()
  del before["memory_pressure"]
  for step in range(3):
    a, info = pretrain.BatchSampler(config, [], 8).sample(step)
    b, _ = pretrain.BatchSampler(before, [], 8).sample(step)
    assert info.mem_capacity is None
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(x, y)
  with pytest.raises(errors.InputError, match=r"memory_pressure=1.5: expected a share in \[0, 1\]"):
    pretrain.BatchSampler(_config(memory_pressure=1.5), [], 8)
  big = synthetic.generate(1, 60, "recurrent", name="big")  # 213 nodes
  with pytest.raises(errors.InputError, match=r"training graph 'big' \(213 nodes, 339 edges\) fits no bucket"):
    pretrain.BatchSampler(config, [pretrain.TrainingGraph(big, "toy", "shared")], 8)


def test_new_options_at_their_off_values_keep_stored_keys():
  config = _config()
  with_fields = rl_config.effective(config)
  del config["memory_pressure"]
  del config.model["cluster_context"]
  del config.model["context_to_nodes"]
  assert rl_config.effective(config) == with_fields
  config.memory_pressure = 0.5
  assert rl_config.effective(config)["memory_pressure"] == 0.5


# Slow: two compilations of a pretraining iteration (about 2 min on a loaded 2-core CPU); the context's
# parts have the fast tests above, and the option is off by default.
@pytest.mark.slow
def test_pretrain_with_context_then_zero_shot(tmp_path):
  config = _config(memory_pressure=0.5, num_iterations=2)
  config.model.cluster_context = True
  summary = pretrain.pretrain_and_save(config, str(tmp_path))
  assert summary["iterations"] == 2
  policy = pretrained.load_policy(str(tmp_path))
  assert policy.network.cluster_context
  graph = synthetic.generate(11, 80, "branching")
  decisions = pretrained.zero_shot(policy, graph, cluster_lib.get_cluster("v100x4"))
  assert decisions.placement.shape == (graph.num_nodes,) and decisions.placement.max() < 4
  assert model_config.get_model_config().cluster_context is False
