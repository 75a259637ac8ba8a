"""Pathwise gradients for GO-one: the policy's placement distribution, relaxed descent, its budget."""

import jax
import numpy as np
import pytest

from experiments.configs import test as test_config
from go_jax.models import policy
from go_jax.rl import iteration
from go_jax.rl import pathwise
from go_jax.rl import train
import simulator


def make_config(**overrides):
  config = test_config.get_config()
  config.tasks = "placement"
  for name, value in overrides.items():
    config[name] = value
  return config


@pytest.fixture(scope="module")
def setup():
  config = make_config()
  problem = train.load_problem(config)
  network, it_config = train.make_network(config), train.iteration_config(config)
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 3, [1.0])  # device 3 unused
  state = iteration.init_state(network, it_config, batch, seed=0)
  return problem, network, it_config, batch, state


def test_placement_log_probs_are_the_sampling_distribution(setup):
  _, network, _, batch, state = setup
  log_prob = np.asarray(pathwise.placement_log_probs(network, state.params, batch))  # (1, Np, 4)
  assert log_prob.shape == (1, batch.node_mask.shape[1], network.max_devices)
  mask = np.asarray(batch.node_mask[0])  # real nodes first; padding rows are 0
  real = log_prob[0, mask]
  assert np.all(real[:, 3] < -1e8)  # num_devices = 3: device 3 impossible
  np.testing.assert_allclose(np.exp(real[:, :3]).sum(-1), 1.0, rtol=1e-5)
  # The log-prob the policy reports for each sampled action is the entry of that device.
  sampled = policy.sample_graphs(network, state.params, batch.graphs, batch.num_devices,
                                 jax.random.PRNGKey(1), 5)
  actions = np.asarray(sampled.actions.placement[0])  # (5, Np)
  expected = np.take_along_axis(log_prob[0][None], actions[..., None], axis=-1)[..., 0]
  np.testing.assert_allclose(np.asarray(sampled.log_prob.placement[0])[:, mask], expected[:, mask],
                             rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # ~1 min: compiles the descent (tests/experiments/test_train_cli.py runs it in the default suite)
def test_descend_lowers_the_relaxed_step_time_and_counts_its_evaluations(setup):
  problem, network, it_config, batch, state = setup
  data = pathwise.surrogate_data(problem, np.zeros(problem.graph.num_nodes, np.int32))
  config = pathwise.PathwiseConfig(steps=25)
  first, metrics_first = pathwise.descend(state, batch, data, network=network, config=config,
                                          it_config=it_config)
  assert int(first.evaluations) == int(state.evaluations) + 25 + 1  # steps + the argmax
  second, metrics_second = pathwise.descend(first, batch, data, network=network, config=config,
                                            it_config=it_config)
  assert float(metrics_second["relaxed_step_time"]) < float(metrics_first["relaxed_step_time"])
  # The best is the scored argmax: its stored step time is its exact step time.
  n = problem.graph.num_nodes
  best = simulator.Decisions(*(np.asarray(x[0][:n]) for x in second.best_decisions))
  exact, _ = simulator.simulate_reference(problem.graph, problem.cluster, best)
  assert float(second.best_step_time[0]) == pytest.approx(float(exact.step_time), rel=1e-5)
  assert float(second.best_step_time[0]) <= float(first.best_step_time[0])


def test_smoothing_anneals_geometrically_then_stays():
  config = pathwise.PathwiseConfig(steps=1, start_smoothing=1e-2, end_smoothing=1e-4, anneal_iterations=10)
  values = [float(pathwise.smoothing(np.int32(step), config)) for step in (0, 5, 10, 50)]
  np.testing.assert_allclose(values, [1e-2, 1e-3, 1e-4, 1e-4], rtol=1e-5)


def test_descend_is_for_one_graph(setup):
  problem, network, it_config, _, state = setup
  two = iteration.make_graph_batch([problem.graph, problem.graph], problem.cluster, 4, [1.0, 1.0])
  data = pathwise.surrogate_data(problem, np.zeros(problem.graph.num_nodes, np.int32))
  with pytest.raises(ValueError, match="one graph"):
    pathwise.descend(state, two, data, network=network, config=pathwise.PathwiseConfig(steps=1),
                     it_config=it_config)


@pytest.mark.slow  # compiles a PPO iteration and the descent (~1-2 min on 2 cores)
def test_training_with_pathwise_steps_spends_the_budget_it_says():
  config = make_config(num_iterations=100)
  config.pathwise.steps = 4
  per_iteration = config.ppo.num_samples + 4 + 1
  budget = 1 + 2 * per_iteration + 3  # the calibration simulation, two iterations, 3 left over
  problem = train.load_problem(config)
  assert train.planned_iterations(config, budget) == 2
  result = train.train(config, problem, budget=budget)
  assert result.iterations == 2 and result.evaluations == budget - 3
  assert {"relaxed_step_time", "relaxed_temperature"} <= set(result.history[0])
