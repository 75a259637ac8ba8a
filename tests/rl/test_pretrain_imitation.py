"""Imitation in GO-batch pretraining: each batch graph's own teacher, cloned before PPO."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import pretrain_test as pretrain_test_config
from go_jax import errors
from go_jax import evaluation
from go_jax.graph import synthetic
from go_jax.rl import config as rl_config
from go_jax.rl import imitation
from go_jax.rl import iteration
from go_jax.rl import pretrain
from go_jax.rl import symmetry
from go_jax.rl import train
import simulator
from simulator import cluster as cluster_lib
from tests import cli_run


def _config(**overrides):
  config = pretrain_test_config.get_config()
  for name, value in overrides.items():
    config[name] = value
  return config


def _recurrent_set():
  # Recurrent graphs split well across 4 or 8 devices, so memory pressure squeezes their batches.
  graphs = [synthetic.generate(1, 60, "recurrent", name="a"), synthetic.generate(2, 70, "recurrent", name="b")]
  return {g.name: g for g in graphs}, [pretrain.TrainingGraph(g, "toy", "shared") for g in graphs]


def test_padded_target_stacks_one_teacher_per_graph():
  def made_up(n, device):
    return imitation.Teacher("t", np.full(n, device, np.int32), np.arange(n, dtype=np.int32) % 8,
                             np.arange(n) % 2 == 0, 1.0, False, 0)

  mask = np.arange(6)[None, :] < np.asarray([[4], [2]])
  target = imitation.padded_target([made_up(4, 3), made_up(2, 1)], mask)
  np.testing.assert_array_equal(target.placement, [[3, 3, 3, 3, 0, 0], [1, 1, 0, 0, 0, 0]])
  np.testing.assert_array_equal(target.priority, [[0, 1, 2, 3, 0, 0], [0, 1, 0, 0, 0, 0]])
  np.testing.assert_array_equal(target.fusion, [[1, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
  one = imitation.padded_target(made_up(4, 2), mask[:1])  # GO-one: a single teacher
  np.testing.assert_array_equal(one.placement, [[2, 2, 2, 2, 0, 0]])
  with pytest.raises(ValueError, match="1 teachers for a batch of 2 graphs"):
    imitation.padded_target([made_up(4, 3)], mask)


def test_teachers_are_each_graphs_best_heuristic_on_the_batch_cluster():
  graphs, training_set = _recurrent_set()
  sampler = pretrain.BatchSampler(_config(memory_pressure=1.0, synthetic_fraction=0.0, buckets="256"),
                                  training_set, 8)
  squeezed_splits = 0
  for step in range(8):
    batch, info = sampler.sample(step, teachers=True)
    plain, _ = sampler.sample(step)  # the teachers change nothing else
    for x, y in zip(jax.tree.leaves(batch), jax.tree.leaves(plain)):
      np.testing.assert_array_equal(x, y)
    assert len(info.teachers) == len(info.names) == 1
    teacher, graph, devices = info.teachers[0], graphs[info.names[0]], info.num_devices[0]
    preset, _, _ = info.cluster.partition("@")
    cluster = cluster_lib.get_cluster(preset)
    if info.mem_capacity is not None:
      cluster = cluster_lib.with_memory(cluster, info.mem_capacity)
    # Recompute the teacher from scratch on the batch's own cluster and device count.
    problem = evaluation.Problem(graph, cluster_lib.first_devices(cluster, devices))
    want = imitation.teacher(problem, rl_config.names(_config().imitation.teachers), devices,
                             tasks=("placement", "scheduling", "fusion"), num_levels=4)
    assert teacher.name == want.name and teacher.step_time == pytest.approx(want.step_time)
    np.testing.assert_array_equal(teacher.placement, want.placement)
    assert teacher.placement.max() < devices
    result, _ = simulator.simulate_reference(graph, cluster, simulator.Decisions(
        teacher.placement, teacher.priority.astype(np.float32), teacher.fusion))
    assert float(result.step_time) == pytest.approx(teacher.step_time, rel=1e-6)
    assert not teacher.oom  # a contiguous split always fits a squeezed cluster (memory pressure's rule)
    if info.mem_capacity is not None and len(np.unique(teacher.placement)) > 1:
      squeezed_splits += 1
    # Cached: asking again costs no evaluations.
    _, again = sampler.sample(step, teachers=True)
    assert again.teacher_evaluations == 0 and again.teachers[0].name == teacher.name
  assert squeezed_splits >= 1  # where one device cannot hold the graph, the teacher splits it


def test_imitation_step_fits_the_canonical_teachers():
  config = _config(synthetic_fraction=1.0)
  config.ppo.learning_rate = 1e-2  # one Adam step per iteration here (1 epoch x 1 minibatch)
  network, it_config = train.make_network(config), train.iteration_config(config)
  assert it_config.canonical_devices
  sampler = pretrain.BatchSampler(config, [], network.max_devices)
  batch, info = sampler.sample(0, teachers=True)
  # Teachers on devices the canonical relabeling moves: placement k -> the group's last label.
  teachers = [t._replace(placement=(d - 1 - t.placement) % d) for t, d in zip(info.teachers, info.num_devices)]
  target = imitation.padded_target(teachers, np.asarray(batch.node_mask))
  state = pretrain.init_state(network, it_config, 0)
  losses, accuracies = [], []
  for _ in range(40):
    state, metrics = pretrain.imitation_step(state, batch, target, jnp.float32(0.0), jnp.int32(5),
                                             network=network, it_config=it_config)
    losses.append(float(metrics["imitation_loss"]))
    accuracies.append(float(metrics["imitation_accuracy"]))
  assert int(state.step) == 40 and int(state.evaluations) == 200 and int(state.graphs_seen) == 40 * 2
  assert losses[-1] < 0.5 * losses[0] and accuracies[-1] > accuracies[0]
  # What was learned is the canonical labeling of each teacher, not its raw labels.
  greedy = iteration.greedy_decisions(state.params, batch, network)
  compared = 0
  for row, teacher in enumerate(teachers):
    n = teacher.placement.shape[0]
    canonical = np.asarray(symmetry.canonical_placement(
        jnp.asarray(target.placement[row]), batch.leader[row], batch.graphs.nodes["topo_rank"][row],
        batch.node_mask[row], batch.device_group[row]))[batch.leader[row]][:n]
    raw = teacher.placement[np.asarray(batch.leader[row])[:n]]
    got = np.asarray(greedy.placement[row])[:n]
    if not np.array_equal(canonical, raw):
      compared += 1
      assert np.mean(got == canonical) > 0.5 > 0.2 > np.mean(got == raw)  # measured: 0.66 and 0.06
  assert compared


def test_pretraining_clones_first_then_runs_ppo(tmp_path):
  config = _config(num_iterations=3)
  config.imitation.pretrain_iterations = 2
  rows = []
  summary = pretrain.pretrain_and_save(config, str(tmp_path), lambda step, m: rows.append((step, m)))
  assert summary["iterations"] == 3
  assert [m.get("imitation", 0.0) for _, m in rows] == [1.0, 1.0, 0.0]
  for _, m in rows[:2]:
    assert m["teacher_speedup"] > 0 and 0.0 <= m["teacher_oom_fraction"] <= 1.0
    assert np.isfinite(m["imitation_loss"]) and "reward_mean" not in m
  assert "reward_mean" in rows[2][1]
  lines = [pretrain.progress_line(step, metrics) for step, metrics in rows]  # the launcher's
  assert ["clone: xent" in line for line in lines] == [True, True, False] and "reward" in lines[2]
  # Evaluations: the teachers' exact simulations, then one PPO iteration's G x K samples.
  assert rows[0][1]["evaluations"] > 0
  assert rows[2][1]["evaluations"] == rows[1][1]["evaluations"] + 2 * config.ppo.num_samples
  # The option is neutral at 0: stored rows and transfer records keep their keys.
  off = _config()
  del off.imitation["pretrain_iterations"]
  assert rl_config.effective(off) == rl_config.effective(_config())
  assert rl_config.effective(config)["imitation"]["pretrain_iterations"] == 2
  config.imitation.pretrain_iterations = -1
  with pytest.raises(errors.InputError, match=r"pretrain_iterations=-1: expected >= 0"):
    pretrain.pretrain(config, [])


def test_split_probe_counts_splits_of_squeezed_graphs():
  graphs, training_set = _recurrent_set()
  config = _config(memory_pressure=1.0, synthetic_fraction=0.0, buckets="256")
  network = train.make_network(config)
  params = pretrain.init_state(network, train.iteration_config(config), 0).params
  probe = pretrain.split_probe(network, params, config, training_set, range(16))
  # The same batches, counted by hand.
  sampler = pretrain.BatchSampler(config, training_set, network.max_devices)
  want = {"batches": 0, "graphs": 0, "teacher_splits": 0, "policy_splits": 0, "teacher_oom": 0}
  for step in range(16):
    batch, info = sampler.sample(step, teachers=True)
    if info.mem_capacity is None:
      continue
    want["batches"] += 1
    greedy = iteration.greedy_decisions(params, batch, network)
    for row, teacher in enumerate(info.teachers):
      graph = graphs[info.names[row]]
      want["graphs"] += 1
      want["teacher_splits"] += int(len(set(teacher.placement.tolist())) > 1)
      want["policy_splits"] += int(len(set(np.asarray(greedy.placement[row])[:graph.num_nodes].tolist())) > 1)
      want["teacher_oom"] += int(teacher.oom)
  assert {k: probe[k] for k in want} == want
  assert want["batches"] >= 2 and want["teacher_splits"] >= 1
  assert 0 <= probe["policy_oom"] <= probe["graphs"] and 0.0 <= probe["agreement"] <= 1.0


@pytest.mark.parametrize("args, message", [
    (["--checkpoint=go_jax/pretrained"], "the run has no memory pressure; pass --memory_pressure"),
    (["--checkpoint=docs"], "not a GO run directory"),
    (["--checkpoint=go_jax/pretrained", "--memory_pressure=0.5", "--num_steps=0"], "--num_steps=0: expected >= 1"),
])
def test_probe_cli_bad_input_is_one_line_exit_2(args, message):
  cli_run.check_input_error(cli_run.run_module("experiments.probe_splits", *args), message)
