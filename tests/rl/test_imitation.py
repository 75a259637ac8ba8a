"""The imitation warm start of GO-one: teacher choice, cloning, and the clone entering training."""

import numpy as np
import pytest

from experiments.configs import test as test_config
from go_jax.baselines import placement as placement_lib
from go_jax.rl import imitation
from go_jax.rl import iteration
from go_jax.rl import train
import simulator


def make_config(**overrides):
  config = test_config.get_config()
  config.tasks = "placement"  # the head imitation trains; a smaller network to compile
  for name, value in overrides.items():
    config[name] = value
  return config


@pytest.fixture(scope="module")
def problem():
  return train.load_problem(make_config())


def exact_time(problem, placement):
  result, _ = simulator.simulate_reference(problem.graph, problem.cluster,
                                           simulator.default_decisions(problem.graph.num_nodes, placement))
  return float(result.step_time)


def test_teacher_is_the_fastest_usable_heuristic(problem):
  # toy_chains_4x6: four independent 6-op chains. Round robin alternates devices along every
  # chain (a copy per edge); contiguous keeps whole chains together; one device serializes all.
  times = {name: exact_time(problem, fn) for name, fn in [
      ("single", placement_lib.single_device(problem.graph, 4)),
      ("round_robin", placement_lib.round_robin(problem.graph, 4))]}
  teacher = imitation.teacher(problem, ["single", "round_robin", "expert"], num_devices=4)
  # "expert" has no placement for a toy graph: skipped, not counted.
  assert teacher.evaluations == 2 and not teacher.oom
  assert teacher.name == min(times, key=times.get)
  assert teacher.step_time == pytest.approx(min(times.values()))
  assert exact_time(problem, teacher.placement) == pytest.approx(teacher.step_time)


def test_teacher_errors_name_the_problem(problem):
  with pytest.raises(ValueError, match="unknown imitation teacher.*nope"):
    imitation.teacher(problem, ["single", "nope"], num_devices=4)
  with pytest.raises(ValueError, match="no usable imitation teacher among expert"):
    imitation.teacher(problem, ["expert"], num_devices=4)


@pytest.mark.slow  # ~1 min: compiles the cloning loop and the greedy pass
def test_cloning_reproduces_the_teacher(problem):
  config = make_config()
  network, it_config = train.make_network(config), train.iteration_config(config)
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 4, [1.0])
  state = iteration.init_state(network, it_config, batch, seed=0)
  # A placement the random-initialised policy does not produce: chain k on device k.
  n = problem.graph.num_nodes
  target = np.zeros(batch.node_mask.shape, np.int32)
  target[0, :n] = placement_lib.contiguous(problem.graph, 4, np.ones(n))
  params, metrics = imitation.imitate(state.params, batch, target, network=network, steps=150,
                                      learning_rate=1e-2, max_grad_norm=1.0)
  loss = np.asarray(metrics["imitation_loss"])
  assert loss.shape == (150,) and loss[-1] < 0.1 * loss[0]
  greedy = iteration.greedy_decisions(params, batch, network)
  np.testing.assert_array_equal(np.asarray(greedy.placement[0, :n]), target[0, :n])
  before = iteration.greedy_decisions(state.params, batch, network)
  assert not np.array_equal(np.asarray(before.placement[0, :n]), target[0, :n])


@pytest.mark.slow  # compiles a PPO iteration of its own (~2 min on a 2-core CPU)
def test_training_starts_from_the_clone(problem):
  config = make_config(num_iterations=2)
  config.imitation.steps = 150
  config.imitation.learning_rate = 1e-2
  config.imitation.teachers = "contiguous,single"
  result = train.train(config, problem)
  assert result.teacher is not None and result.teacher.evaluations == 2
  # Teacher scores (2) + the clone's argmax (1) + two iterations of samples.
  assert result.evaluations == 2 + 1 + 2 * config.ppo.num_samples
  # Only decisions the policy produced are kept; here the clone is exact, so the best is at
  # least as fast as the teacher.
  assert result.best_step_time <= result.teacher.step_time * (1 + 1e-5)
  # Without imitation nothing of the kind is recorded.
  plain = train.train(make_config(num_iterations=1), problem)
  assert plain.teacher is None and plain.evaluations == config.ppo.num_samples
