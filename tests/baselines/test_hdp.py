"""Tests of the HDP baseline (grouper + seq2seq placer trained with REINFORCE).

Every training test uses the same graph and the same reduced config, so the
jitted step compiles once for the whole file.
"""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from go_jax import evaluation
from go_jax.baselines import hdp
from go_jax.baselines import hdp_networks
from go_jax.graph import graph as graph_lib
import simulator
from simulator import cluster as cluster_lib

NUM_DEVICES = 4


def heavy_chains(num_chains=4, length=6):
  """Independent chains of dots (1 GFLOP each) joined by 10 MB tensors.

  On the toy cluster a dot takes ~1.7 ms and a cross-device copy ~10 ms, so
  placement matters: one device takes ~40 ms, one chain per device ~10 ms, and
  a random placement ~68 ms (most edges cross devices).
  """
  b = graph_lib.GraphBuilder("chains")
  for chain in range(num_chains):
    for k in range(length):
      i = b.add_node(f"c{chain}_{k}", "dot", flops=1e9, output_bytes=1e7)
      if k:
        b.add_edge(i - 1, i, 1e7)
  return b.build()


def toy_cluster():
  d = NUM_DEVICES
  return cluster_lib.make_cluster("toy", "gpu", peak_flops=1e12, mem_bandwidth=1e12, mem_capacity=1e12,
                                  launch_overhead=0.0, link_latency=np.full((d, d), 1e-4),
                                  link_bandwidth=np.full((d, d), 1e9))


def small_config():
  config = hdp.get_hdp_config()
  config.hidden_size = 32
  config.num_groups = 8
  config.num_samples = 8
  return config


@functools.lru_cache(maxsize=None)
def problem(budget=20, seed=0):
  return evaluation.Problem(heavy_chains(), toy_cluster(), budget=budget, seed=seed)


@functools.lru_cache(maxsize=None)
def trained(budget=20, seed=0):
  return hdp.train(problem(budget, seed), small_config())


def test_grappler_config_is_the_public_defaults():
  config = hdp.get_grappler_config()
  assert (config.hidden_size, config.failing_signal, config.baseline_decay) == (512, 100.0, 0.9)
  assert (config.learning_rate, config.lr_decay, config.start_decay_step, config.decay_steps) == (0.1, 0.95, 400, 50)
  assert config.grad_bound == 1.0
  assert hdp.num_groups_for(config, 4) == 80  # min(256, 20 x 4)
  assert hdp.num_groups_for(config, 16) == 256


def test_default_config_only_tunes_the_learning_rate():
  tuned, grappler = hdp.get_hdp_config().to_dict(), hdp.get_grappler_config().to_dict()
  assert tuned.pop("learning_rate") == hdp.TUNED_LEARNING_RATE < grappler.pop("learning_rate")
  assert tuned == grappler


def test_learning_rate_schedule_by_hand():
  schedule = hdp.learning_rate_schedule(hdp.hyper_from_config(hdp.get_grappler_config()))
  # 0.1 until step 400, then 0.1 * 0.95 ** floor((t - 400) / 50).
  expected = {0: 0.1, 399: 0.1, 400: 0.1, 449: 0.1, 450: 0.095, 500: 0.09025, 1000: 0.1 * 0.95**12}
  for step, value in expected.items():
    assert float(schedule(step)) == pytest.approx(value, rel=1e-6), step


def test_group_embeddings_by_hand():
  # Ops 0, 1 in group 0, op 2 in group 1; edges 0->1 (inside group 0) and 1->2 (0 -> 1); one padding op.
  inputs = hdp_networks.PolicyInputs(
      op_features=jnp.asarray([[1.0], [3.0], [2.0], [9.0]]), op_type=jnp.asarray([0, 0, 1, 0]),
      node_mask=jnp.asarray([True, True, True, False]), senders=jnp.asarray([0, 1, 0]),
      receivers=jnp.asarray([1, 2, 0]), edge_mask=jnp.asarray([True, True, False]))
  emb = np.asarray(hdp_networks.group_embeddings(jnp.asarray([0, 0, 1, 0]), inputs, num_groups=2))
  num_types = emb.shape[1] - 2 - 2 - 1 - 1
  # Group 0 row: to-groups [1, 1], from-groups [1, 0], types [2, 0, ...], feature sum 4, size 2; max 4.
  row0 = np.concatenate([[1, 1], [1, 0], [2, 0], np.zeros(num_types - 2), [4], [2]]) / 5.0
  # Group 1 row: to [0, 0], from [1, 0], types [0, 1, ...], feature sum 2, size 1; max 2.
  row1 = np.concatenate([[0, 0], [1, 0], [0, 1], np.zeros(num_types - 2), [2], [1]]) / 3.0
  np.testing.assert_allclose(emb, np.stack([row0, row1]), rtol=1e-6)


def test_program_order_keeps_chains_contiguous():
  graph = heavy_chains(num_chains=3, length=2)
  assert hdp.program_order(graph).tolist() == [0, 1, 2, 3, 4, 5]
  assert graph.topological_order.tolist() == [0, 2, 4, 1, 3, 5]  # level order interleaves them


def test_colocation_leaders():
  b = graph_lib.GraphBuilder("coloc")
  for name, group in zip("abcd", (-1, 3, -1, 3)):
    b.add_node(name, "dot", colocation=group)
  b.add_edge(3, 1, 1.0)  # d before b in topological order: d leads group 3
  leaders = hdp.colocation_leaders(b.build(), num_nodes=6)
  assert leaders.tolist() == [0, 3, 2, 3, 4, 5]


def test_step_shapes_and_log_probs_match_reevaluation():
  config = small_config()
  prob = problem()
  policy = hdp.make_policy(config, NUM_DEVICES)
  hyper = hdp.hyper_from_config(config)
  sim_graph, cluster = simulator.prepare(prob.graph, prob.cluster)
  num_nodes, num_edges = sim_graph.node_mask.shape[0], sim_graph.senders.shape[0]
  inputs = jax.tree.map(jnp.asarray, hdp.policy_inputs(prob.graph, num_nodes, num_edges))
  state = hdp.init_state(policy, hyper, inputs, jax.random.PRNGKey(0), config.baseline_init)
  params = state.params["params"]
  h, g, d = config.hidden_size, config.num_groups, NUM_DEVICES
  assert params["grouping_softmax"]["kernel"].shape == (config.grouping_hidden_size, g)
  assert params["decoder_lstm"].shape == (2 * h, 4 * h)
  assert params["device_softmax"].shape == (2 * h, d)
  assert params["encoder_lstm_forward"].shape[1] == 4 * (h // 2)

  leaders = jnp.asarray(hdp.colocation_leaders(prob.graph, num_nodes))
  new_state, out = hdp.train_step(state, jax.random.PRNGKey(1), jnp.int32(8), inputs, leaders, sim_graph,
                                  cluster, policy=policy, hyper=hyper)
  assert out.placement.shape == (8, num_nodes)
  assert out.step_time.shape == out.log_prob.shape == (8,)
  placement = np.asarray(out.placement)
  assert placement.min() >= 0 and placement.max() < d and np.all(placement[:, prob.graph.num_nodes:] == 0)
  # The log-probability of each sample, re-evaluated with teacher forcing, is the one it was drawn with.
  np.testing.assert_allclose(out.log_prob, out.sample_log_prob, rtol=1e-5, atol=1e-4)
  assert np.all(np.asarray(out.log_prob) < 0)
  # The first step's baseline is its own mean cost; afterwards an EMA with decay 0.9.
  mean_cost = np.sqrt(np.asarray(out.step_time)).mean()
  assert float(out.baseline) == pytest.approx(mean_cost, rel=1e-5)
  assert float(new_state.baseline) == pytest.approx(mean_cost, rel=1e-5)
  assert int(new_state.step) == 1


def test_budget_is_respected_exactly():
  result = trained(budget=20)
  assert result.evaluations == 20
  assert [p.evaluations for p in result.curve] == [8, 16, 20]  # the last step is truncated
  placement = np.asarray(result.best_decisions.placement)
  assert placement.shape == (24,) and placement.min() >= 0 and placement.max() < NUM_DEVICES
  assert not np.any(result.best_decisions.fusion) and np.all(np.asarray(result.best_decisions.priority) == 0)
  # The best step time is the one of the returned placement.
  reference, _ = simulator.simulate_reference(problem().graph, problem().cluster, result.best_decisions)
  assert reference.step_time == pytest.approx(result.best_step_time, rel=1e-4)
  assert result.best_step_time == min(p.best_step_time for p in result.curve)


def test_deterministic_for_a_seed():
  first = trained(budget=20)
  again = hdp.train(problem(budget=20), small_config())
  np.testing.assert_array_equal(first.best_decisions.placement, again.best_decisions.placement)
  assert [p.mean_step_time for p in first.curve] == [p.mean_step_time for p in again.curve]


def test_improves_over_initial_policy():
  # 15 steps of 8 samples: the first step samples the initial policy (random groups and devices, mostly
  # cross-device edges, ~68 ms); the policy must learn to keep the heavy chains together.
  result = trained(budget=8 * 15)
  initial = result.curve[0].mean_step_time
  final = np.mean([p.mean_step_time for p in result.curve[-3:]])
  assert final < 0.8 * initial, (initial, final)


def test_write_curve(tmp_path):
  paths = hdp.write_curve(trained(budget=20).curve, str(tmp_path / "out"))
  with open(paths[0]) as f:
    rows = json.load(f)
  assert [r["evaluations"] for r in rows] == [8, 16, 20]
  with open(paths[1]) as f:
    assert f.readline().strip().split(",")[:4] == ["step", "evaluations", "seconds", "best_step_time"]


def test_registered_method():
  assert set(hdp.METHODS) == {"hdp"}


def test_curve_summary_by_hand():
  # Four steps of 8 evaluations, 10 s each: the best step time after 25% (8 evals), 50% (16) and
  # 100% (32) of the evaluations.
  curve = [hdp.CurvePoint(step=k, evaluations=8 * (k + 1), seconds=10.0 * (k + 1), best_step_time=best,
                          mean_step_time=0.5, baseline=0.7, loss=0.0)
           for k, best in enumerate((0.3, 0.25, 0.2, 0.2))]
  assert hdp.curve_summary(curve) == "best 300 ms @8 evals/10 s, 250 ms @16/20 s, 200 ms @32/40 s"
  # A one-step curve names its only point once.
  assert hdp.curve_summary(curve[:1]) == "best 300 ms @8 evals/10 s"
