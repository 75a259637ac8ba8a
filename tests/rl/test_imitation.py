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


def exact_time(problem, placement, priority=None, fusion=None):
  n = problem.graph.num_nodes
  decisions = simulator.Decisions(np.asarray(placement, np.int32),
                                  np.zeros(n, np.float32) if priority is None else np.asarray(priority, np.float32),
                                  np.zeros(n, bool) if fusion is None else np.asarray(fusion, bool))
  result, _ = simulator.simulate_reference(problem.graph, problem.cluster, decisions)
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
  with pytest.raises(ValueError, match="unknown imitation scheduling teacher.*heft.*known: level_order"):
    imitation.teacher(problem, ["single"], 4, tasks=("scheduling",), scheduling_names=["heft"])
  with pytest.raises(ValueError, match="unknown imitation fusion teacher.*fuse_some"):
    imitation.teacher(problem, ["single"], 4, tasks=("fusion",), fusion_names=["fuse_all", "fuse_some"])


def test_priority_levels_keep_the_order_by_rank():
  # Sorted: -1, 0.5, 2, 3, 3; ranks (ties share the first): 1, 3, 3, 0, 2; level = rank * 4 // 5.
  np.testing.assert_array_equal(imitation.priority_levels(np.array([0.5, 3, 3, -1, 2]), 4), [0, 2, 2, 0, 1])
  np.testing.assert_array_equal(imitation.priority_levels(np.zeros(7), 8), np.zeros(7))  # level order
  levels = imitation.priority_levels(np.arange(16.0), 8)  # two nodes per level, higher runs earlier
  np.testing.assert_array_equal(levels, np.repeat(np.arange(8), 2))


def test_fusion_teacher_keeps_the_default_placement(problem):
  # Fusion only: placement and priorities stay the default (one device: a toy graph has no
  # expert), and the teacher is the fastest of the three fusion rules there.
  n = problem.graph.num_nodes
  teacher = imitation.teacher(problem, ["round_robin"], 4, tasks=("fusion",))
  single = np.zeros(n, np.int32)
  times = {name: exact_time(problem, single, fusion=rule(problem.graph))
           for name, rule in imitation.FUSION_TEACHERS.items()}
  assert teacher.evaluations == 3 and teacher.name == min(times, key=lambda k: (times[k], k))
  np.testing.assert_array_equal(teacher.placement, single)
  np.testing.assert_array_equal(teacher.priority, np.zeros(n))
  assert teacher.step_time == pytest.approx(min(times.values()))
  assert exact_time(problem, teacher.placement, teacher.priority, teacher.fusion) == pytest.approx(teacher.step_time)
  # Chains of single-use ops: fusing everything removes every launch but one per chain.
  assert teacher.name == "fuse_all" and teacher.fusion.all()


def test_joint_teacher_scores_placement_and_fusion_pairs_then_priorities(problem):
  n = problem.graph.num_nodes
  teacher = imitation.teacher(problem, ["single", "round_robin", "contiguous"], 4,
                              tasks=("placement", "scheduling", "fusion"), num_levels=8)
  # 3 placements x 3 fusion rules, then critical_path and fifo (level order was scored with the pairs).
  assert teacher.evaluations == 3 * 3 + 2
  pairs = {(p, f): exact_time(problem, place(problem.graph, 4) if p != "contiguous" else
                              placement_lib.contiguous(problem.graph, 4, np.ones(n)), fusion=rule(problem.graph))
           for p, place in [("single", placement_lib.single_device), ("round_robin", placement_lib.round_robin),
                            ("contiguous", None)]
           for f, rule in imitation.FUSION_TEACHERS.items()}
  best_pair = min(pairs.values())
  assert teacher.step_time <= best_pair * (1 + 1e-6)  # priorities only ever improve on level order
  assert exact_time(problem, teacher.placement, teacher.priority, teacher.fusion) == pytest.approx(teacher.step_time)
  parts = teacher.name.split(" + ")
  assert len(parts) == 3 and parts[1] in imitation.SCHEDULING_TEACHERS and parts[2] in imitation.FUSION_TEACHERS
  if parts[1] != "level_order":  # the levels are the rank-quantised priorities of that heuristic
    priorities = imitation.SCHEDULING_TEACHERS[parts[1]](problem.graph, problem.cluster, teacher.placement)
    np.testing.assert_array_equal(teacher.priority, imitation.priority_levels(priorities, 8))
  assert set(np.unique(teacher.priority)) <= set(range(8))


@pytest.mark.slow  # ~1-2 min: compiles the cloning loop and the greedy pass of all three tasks
def test_cloning_reproduces_the_teacher(problem):
  config = make_config(tasks="placement,scheduling,fusion")
  network, it_config = train.make_network(config), train.iteration_config(config)
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 4, [1.0])
  state = iteration.init_state(network, it_config, batch, seed=0)
  # Decisions the random-initialised policy does not produce: chain k on device k, priority
  # levels counting down along each chain, fusion requested in the chains on devices 0 and 1.
  n = problem.graph.num_nodes
  levels = imitation.priority_levels(-np.asarray(problem.graph.levels, np.float32), network.num_priority_levels)
  placement = placement_lib.contiguous(problem.graph, 4, np.ones(n))
  teacher = imitation.Teacher(name="made up", placement=placement, priority=levels, fusion=placement < 2,
                              step_time=0.0, oom=False, evaluations=0)
  target = imitation.padded_target(teacher, np.asarray(batch.node_mask))
  params, metrics = imitation.imitate(state.params, batch, target, network=network, steps=150,
                                      learning_rate=1e-2, max_grad_norm=1.0)
  loss = np.asarray(metrics["imitation_loss"])
  assert loss.shape == (150,) and loss[-1] < 0.1 * loss[0]
  greedy = iteration.greedy_decisions(params, batch, network)
  before = iteration.greedy_decisions(state.params, batch, network)
  for field in ("placement", "priority", "fusion"):
    want = np.asarray(getattr(target, field))[0, :n]
    np.testing.assert_array_equal(np.asarray(getattr(greedy, field))[0, :n], want, err_msg=field)
    assert not np.array_equal(np.asarray(getattr(before, field))[0, :n], want), field


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
