"""Tests of the joint placement / scheduling / fusion policy."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from go_jax.graph import features
from go_jax.models import config as config_lib
from go_jax.models import policy
from go_jax.models import synthetic_graphs

# Unit tests are dominated by XLA compile time: compile without LLVM optimisation.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0,
                                                    "xla_llvm_disable_expensive_passes": True})

# Two graphs of the same bucket (64 padded nodes, 128 padded edges).
_NUM_NODES, _NUM_EDGES = 64, 128


def _graphs_tuple(num_nodes, seed):
  graph = synthetic_graphs.random_graph(num_nodes, seed=seed)
  return graph, features.to_graphs_tuple(graph, num_nodes=_NUM_NODES, num_edges=_NUM_EDGES)


@pytest.fixture(scope="module")
def setup():
  config = config_lib.get_test_config()
  network = policy.make_policy(config)
  graph, graphs = _graphs_tuple(45, seed=0)
  params = _jit(functools.partial(policy.init_params, network))(jax.random.key(0), graphs)
  sample = _jit(functools.partial(policy.sample, network))
  evaluate = _jit(functools.partial(policy.evaluate, network))
  return config, network, graph, graphs, params, sample, evaluate


def test_output_shapes_dtypes_and_ranges(setup):
  config, _, graph, graphs, params, sample, _ = setup
  out = sample(params, graphs, 4, jax.random.key(1))
  for field in policy.Decisions._fields:
    chex.assert_shape([getattr(out.actions, field), getattr(out.log_prob, field),
                       getattr(out.entropy, field)], (_NUM_NODES,))
    chex.assert_type(getattr(out.actions, field), jnp.int32)
  chex.assert_shape(out.value, ())
  n = graph.num_nodes
  assert np.all((out.actions.priority[:n] >= 0) & (out.actions.priority[:n] < config.num_priority_levels))
  assert set(np.unique(out.actions.fusion[:n])) <= {0, 1}
  assert np.all(np.asarray(out.log_prob.placement[:n]) < 0.0)
  assert np.all(np.asarray(out.entropy.fusion[:n]) > 0.0)
  # The untrained policy is close to uniform: entropy ~ log(num classes).
  np.testing.assert_allclose(out.entropy.placement[:n], np.log(4), rtol=0.05)


def test_padding_is_masked_and_does_not_change_real_nodes(setup):
  _, _, graph, graphs, params, sample, _ = setup
  n, e = graph.num_nodes, graph.num_edges
  out = sample(params, graphs, 8, jax.random.key(2))
  for tree in (out.actions, out.log_prob, out.entropy):
    for values in tree:
      assert np.all(np.asarray(values[n:]) == 0)
  rng = np.random.default_rng(3)
  nodes = {key: value.copy() for key, value in graphs.nodes.items()}
  nodes["features"][n:] = rng.normal(size=nodes["features"][n:].shape) * 10
  nodes["op_type"][n:] = 7
  nodes["topo_rank"][n:] = rng.integers(0, n, size=_NUM_NODES - n)
  edge_features = graphs.edges["features"].copy()
  edge_features[e:] = 5.0
  noisy = graphs._replace(nodes=nodes, edges={"features": edge_features})
  noisy_out = sample(params, noisy, 8, jax.random.key(2))
  for clean_tree, noisy_tree in zip(out, noisy_out):
    for clean, dirty in zip(jax.tree.leaves(clean_tree), jax.tree.leaves(noisy_tree)):
      np.testing.assert_allclose(np.asarray(clean)[..., :n] if clean.ndim else clean,
                                 np.asarray(dirty)[..., :n] if dirty.ndim else dirty, rtol=1e-5, atol=1e-5)


def test_log_probs_of_sampled_actions_match_re_evaluation(setup):
  _, _, graph, graphs, params, sample, evaluate = setup
  out = sample(params, graphs, 3, jax.random.key(4))
  again = evaluate(params, graphs, 3, out.actions)
  chex.assert_trees_all_equal(out.actions, again.actions)
  chex.assert_trees_all_close(out.log_prob, again.log_prob, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(out.entropy, again.entropy, rtol=1e-5, atol=1e-6)
  # Other actions give other log-probs (the evaluation really uses the actions).
  flipped = out.actions._replace(fusion=(1 - out.actions.fusion) * (np.arange(_NUM_NODES) < graph.num_nodes))
  other = evaluate(params, graphs, 3, flipped)
  assert not np.allclose(other.log_prob.fusion, out.log_prob.fusion)


def test_num_devices_mask_is_never_violated(setup):
  _, _, graph, graphs, params, sample, _ = setup
  n = graph.num_nodes
  for num_devices, seed in ((1, 5), (2, 6), (2, 7), (5, 8)):
    out = sample(params, graphs, num_devices, jax.random.key(seed))
    placement = np.asarray(out.actions.placement[:n])
    assert placement.max() < num_devices
    assert np.all(np.isfinite(out.log_prob.placement))
    if num_devices == 1:  # a single device is a certain decision
      np.testing.assert_allclose(out.log_prob.placement, 0.0, atol=1e-6)
      np.testing.assert_allclose(out.entropy.placement, 0.0, atol=1e-6)
  assert len(np.unique(placement)) > 1


def test_greedy_is_most_likely(setup):
  _, network, graph, graphs, params, sample, _ = setup
  greedy = _jit(functools.partial(policy.greedy, network))(params, graphs, 4)
  sampled = sample(params, graphs, 4, jax.random.key(9))
  n = graph.num_nodes
  assert np.asarray(greedy.actions.placement[:n]).max() < 4
  # Per node, the greedy action is at least as likely as any sampled one.
  assert np.all(np.asarray(greedy.log_prob.placement[:n]) >= np.asarray(sampled.log_prob.placement[:n]) - 1e-5)


@pytest.mark.parametrize("tasks", [("scheduling",), ("placement", "fusion")])
def test_disabled_tasks_give_default_decisions(setup, tasks):
  # With ("placement", "fusion"), placement's action embedding feeds the fusion
  # layer directly. All three tasks on is the configuration of the other tests.
  _, _, graph, graphs, params, _, _ = setup
  config = config_lib.get_test_config()
  config.tasks = tasks
  network = policy.make_policy(config)
  n = graph.num_nodes
  # The full network's parameters are a superset of this one's (the scheduling
  # head and embedding go unused), which saves compiling an init here.
  out = _jit(functools.partial(policy.sample, network))(params, graphs, 4, jax.random.key(0))
  defaults = {"placement": "placement", "scheduling": "priority", "fusion": "fusion"}
  for task, field in defaults.items():
    actions, log_prob = getattr(out.actions, field), getattr(out.log_prob, field)
    entropy = getattr(out.entropy, field)
    if task in tasks:
      assert np.all(np.asarray(entropy[:n]) > 0)
    else:
      assert np.all(np.asarray(actions) == 0) and np.all(np.asarray(log_prob) == 0)
      assert np.all(np.asarray(entropy) == 0)


def test_batched_policy_traces_once_per_bucket_and_has_gradients(setup):
  _, network, _, _, params, _, evaluate = setup
  batch_a = policy.stack_graphs([_graphs_tuple(45, seed=0)[1], _graphs_tuple(50, seed=2)[1]])
  batch_b = policy.stack_graphs([_graphs_tuple(60, seed=3)[1], _graphs_tuple(33, seed=4)[1]])
  num_devices = jnp.array([2, 8], jnp.int32)

  def objective(params, graphs, rng):
    """A PPO-like surrogate: sum of log-probs times a random advantage."""
    sample_rng, advantage_rng = jax.random.split(rng)
    out = policy.sample_batch(network, params, graphs, num_devices, sample_rng)
    log_prob = policy.joint_log_prob(out.log_prob)
    advantage = jax.random.normal(advantage_rng, log_prob.shape[:1])
    return (log_prob.sum(axis=-1) * advantage).sum(), out

  def step(params, graphs, rng):
    return jax.value_and_grad(objective, has_aux=True)(params, graphs, rng)

  step = _jit(chex.assert_max_traces(step, n=1))
  (_, out_a), grads = step(params, batch_a, jax.random.key(0))
  (_, out_b), _ = step(params, batch_b, jax.random.key(1))  # same bucket: no retrace
  chex.assert_shape(out_a.actions.placement, (2, _NUM_NODES))
  chex.assert_shape(out_b.value, (2,))
  assert np.asarray(out_a.actions.placement[0]).max() < 2
  assert np.all(jax.tree.leaves(jax.tree.map(lambda g: np.all(np.isfinite(g)), grads)))
  # Gradients reach the encoder, the recurrent trunk, the task layer and the modulation gates.
  p = grads["params"]
  for leaf in (p["encoder"]["sage_0"]["update"]["kernel"], p["trunk"]["step"]["layer_0"]["ffn_in"]["kernel"],
               p["task_layer"]["step"]["layer_0"]["attention"]["query"]["kernel"], p["modulation"]["kernel"]):
    assert np.abs(np.asarray(leaf)).max() > 0
  # The batch gives the same result as the single-graph function.
  single = evaluate(params, jax.tree.map(lambda x: x[1], batch_a), 8,
                           jax.tree.map(lambda x: x[1], out_a.actions))
  np.testing.assert_allclose(single.log_prob.priority, out_a.log_prob.priority[1], rtol=1e-4, atol=1e-5)


def test_config_errors_are_reported_before_any_compilation():
  config = config_lib.get_test_config()
  config.num_heads = 3  # does not divide hidden_size 16
  with pytest.raises(ValueError, match="divisible"):
    policy.make_policy(config)
  config = config_lib.get_test_config()
  config.tasks = ("placement", "sharding")
  network = policy.make_policy(config)
  _, graphs = _graphs_tuple(10, seed=0)
  with pytest.raises(ValueError, match="sharding"):
    jax.eval_shape(functools.partial(policy.init_params, network), jax.random.key(0), graphs)


def test_topological_order_puts_padding_last():
  topo_rank = jnp.array([2, 0, 1, 0, 0], jnp.int32)  # nodes 3 and 4 are padding
  node_mask = jnp.array([True, True, True, False, False])
  np.testing.assert_array_equal(policy.topological_order(topo_rank, node_mask), [1, 2, 0, 3, 4])


def test_many_vectors_share_one_encoding_and_match_one_at_a_time(setup):
  # sample_many/evaluate_many encode the graph once for K vectors; every vector's log-probs,
  # entropies and the value must equal those of the single-vector path.
  _, network, graph, graphs, params, _, evaluate = setup
  many = _jit(functools.partial(policy.sample_many, network, num_samples=3))(params, graphs, 4, jax.random.key(11))
  chex.assert_shape([many.actions.placement, many.log_prob.fusion, many.entropy.priority], (3, _NUM_NODES))
  chex.assert_shape(many.value, ())
  n = graph.num_nodes
  assert not np.array_equal(many.actions.placement[0, :n], many.actions.placement[1, :n])  # independent draws
  again = _jit(functools.partial(policy.evaluate_many, network))(params, graphs, 4, many.actions)
  chex.assert_trees_all_close(many.log_prob, again.log_prob, rtol=1e-5, atol=1e-6)
  for k in range(3):
    one = evaluate(params, graphs, 4, jax.tree.map(lambda x, k=k: x[k], many.actions))
    for field in policy.Decisions._fields:
      np.testing.assert_allclose(getattr(one.log_prob, field), getattr(again.log_prob, field)[k],
                                 rtol=1e-4, atol=1e-5)
      np.testing.assert_allclose(getattr(one.entropy, field), getattr(again.entropy, field)[k],
                                 rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(one.value, again.value, rtol=1e-5, atol=1e-6)


def test_absolute_position_features():
  """Off by default (the shipped checkpoint has no such parameters); on, it tells apart nodes that
  differ only in where they sit in the topological order."""
  graph, graphs = _graphs_tuple(45, seed=0)
  config = config_lib.get_test_config()
  assert config.position_frequencies == 0
  off = policy.make_policy(config)
  assert "absolute_position" not in _jit(functools.partial(policy.init_params, off))(
      jax.random.key(0), graphs)["params"]
  config.position_frequencies = 4
  network = policy.make_policy(config)
  params = _jit(functools.partial(policy.init_params, network))(jax.random.key(0), graphs)
  kernel = params["params"]["absolute_position"]["Dense_0"]["kernel"]
  chex.assert_shape(kernel, (2 * 4, config.hidden_size))
  module = policy.AbsolutePosition(config.hidden_size, 4)
  position = module.apply({"params": params["params"]["absolute_position"]},
                          jnp.arange(_NUM_NODES) < graph.num_nodes)
  chex.assert_shape(position, (_NUM_NODES, config.hidden_size))
  # Distinct places get distinct embeddings; padding gets none.
  real = np.asarray(position[: graph.num_nodes])
  assert len({tuple(np.round(row, 6)) for row in real}) == graph.num_nodes
  np.testing.assert_array_equal(np.asarray(position[graph.num_nodes:]), 0.0)


def test_free_node_logits_start_neutral_and_can_express_any_decision_vector(setup):
  """Off by default; on, they are zero at init (the policy's outputs are unchanged) and, being one
  free vector per node, let the argmax be any target decision vector of this graph."""
  config, network, graph, graphs, params, _, _ = setup
  assert config.node_logit_scale == 0.0
  assert not any(name.endswith("_node_logits") for name in params["params"])
  config = config_lib.get_test_config()
  config.node_logit_scale = 10.0
  free_network = policy.make_policy(config)
  free = _jit(functools.partial(policy.init_params, free_network))(jax.random.key(0), graphs)
  for task, classes in (("placement", config.max_devices), ("scheduling", config.num_priority_levels),
                        ("fusion", 2)):
    chex.assert_shape(free["params"][f"{task}_node_logits"], (_NUM_NODES, classes))
  # Same network parameters plus zero node logits: exactly the same distribution.
  with_zeros = {"params": {**params["params"], **{k: v for k, v in free["params"].items()
                                                     if k.endswith("_node_logits")}}}
  greedy_free = _jit(functools.partial(policy.greedy, free_network))
  np.testing.assert_allclose(greedy_free(with_zeros, graphs, 4).log_prob.placement,
                             _jit(functools.partial(policy.greedy, network))(params, graphs, 4).log_prob.placement,
                             atol=1e-6)
  # A made-up target, written into the node logits (topological order), becomes the argmax.
  rng = np.random.default_rng(0)
  n = graph.num_nodes
  target = {"placement": rng.integers(0, 3, n), "scheduling": rng.integers(0, config.num_priority_levels, n),
            "fusion": rng.integers(0, 2, n)}
  order = np.asarray(policy.topological_order(graphs.nodes["topo_rank"], jnp.arange(_NUM_NODES) < n))
  written = dict(with_zeros["params"])
  for task, values in target.items():
    logits = np.zeros(written[f"{task}_node_logits"].shape, np.float32)
    logits[np.arange(n), values[order[:n]]] = 2.0  # x scale 10 = 20 nats above every other class
    written[f"{task}_node_logits"] = logits
  out = greedy_free({"params": written}, graphs, 3)
  for task, values in target.items():
    np.testing.assert_array_equal(np.asarray(policy.task_field(out.actions, task))[:n], values)
