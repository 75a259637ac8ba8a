"""One jitted PPO iteration, the launcher end to end, resumption, determinism, GO-one learning.

Every test here uses ``experiments/configs/test.py`` (tiny network, the toy
4-chain graph on v100x4), so the whole module shares one compilation of
``train_iteration`` (about a minute or two on a loaded 2-core CPU); each
iteration then takes ~0.1 s.
"""

import json
import os

from absl.testing import flagsaver
import jax
import numpy as np
import pytest

from experiments.configs import test as test_config
from go_jax.models import policy as policy_lib
from go_jax.rl import iteration
from go_jax.rl import train
import simulator

CONFIG_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "configs", "test.py")


def make_config(**overrides):
  config = test_config.get_config()
  for name, value in overrides.items():
    config[name] = value
  return config


def read_metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def problem():
  return train.load_problem(make_config())


def test_iteration_compiles_once(problem):
  config = make_config()
  network, it_config = train.make_network(config), train.iteration_config(config)
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 4, [0.4])
  state = iteration.init_state(network, it_config, batch, seed=0)
  state, _ = iteration.train_iteration(state, batch, network=network, config=it_config)
  compiled = iteration.train_iteration._cache_size()  # pylint: disable=protected-access
  state, metrics = iteration.train_iteration(state, batch, network=network, config=it_config)
  # A fresh but equal network/config (as a resumed run builds) hits the same compilation too.
  again = train.make_network(make_config())
  state, _ = iteration.train_iteration(state, batch, network=again, config=train.iteration_config(make_config()))
  assert iteration.train_iteration._cache_size() == compiled  # pylint: disable=protected-access
  assert int(state.step) == 3 and int(state.evaluations) == 3 * config.ppo.num_samples
  assert np.isfinite(float(metrics["total_loss"])) and 0.0 <= float(metrics["clip_fraction"]) <= 1.0
  # The best decisions are a real sample: re-simulating them gives the recorded step time.
  best = jax.tree.map(lambda x: np.asarray(x[0][: problem.graph.num_nodes]), state.best_decisions)
  result, _ = simulator.simulate_reference(problem.graph, problem.cluster, best)
  np.testing.assert_allclose(result.step_time, float(state.best_step_time[0]), rtol=1e-4)


def test_launcher_end_to_end_and_resume(tmp_path):
  from experiments import train as launcher  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / "run")
  with flagsaver.flagsaver():
    from absl import flags  # pylint: disable=g-import-not-at-top
    flags.FLAGS(["train", f"--config={CONFIG_PATH}", f"--workdir={workdir}"])  # 30 iterations
    launcher.main([])
  for name in ("config.json", "metrics.jsonl", "learning_curve.png", "results.json", "results.txt"):
    assert os.path.exists(os.path.join(workdir, name)), name
  assert os.listdir(os.path.join(workdir, "tb"))
  assert "30" in os.listdir(os.path.join(workdir, "checkpoints"))
  rows = read_metrics(workdir)
  assert [r["step"] for r in rows] == list(range(1, 31))
  with open(os.path.join(workdir, "results.json")) as f:
    methods = [r["method"] for r in json.load(f)]
  assert {"single", "heft", "go_one", "go_one_greedy"} <= set(methods)

  # Same workdir, more iterations: resumes at 30 and continues to 40.
  summary = train.train_and_evaluate(make_config(num_iterations=40), workdir)
  assert summary["iterations"] == 40
  rows = read_metrics(workdir)
  assert [r["step"] for r in rows] == list(range(1, 41))
  assert rows[-1]["evaluations"] == 40 * test_config.get_config().ppo.num_samples
  # The best decision vector only improves; GO-one beats single-device placement.
  best = [r["best_step_time"] for r in rows]
  assert all(b <= a for a, b in zip(best, best[1:]))
  assert summary["best_step_time"] < summary["reference_step_time"] * 1.6  # single device: 1.6 x reference
  # GO-one's search time is its training wall-clock over both processes, not the look-up of its decisions.
  go_rows = [r for r in summary["records"] if r["method"] in ("go_one", "go_one_greedy")]
  assert len(go_rows) == 2
  for record in go_rows:
    assert record["search_seconds"] >= rows[-1]["wall_s"] > rows[29]["wall_s"] > 0


def test_same_seed_same_result_and_resume_equals_uninterrupted(tmp_path):
  straight = str(tmp_path / "straight")
  split = str(tmp_path / "split")
  train.train_and_evaluate(make_config(num_iterations=12, baselines="single"), straight)
  train.train_and_evaluate(make_config(num_iterations=7, baselines="single"), split)
  train.train_and_evaluate(make_config(num_iterations=12, baselines="single"), split)
  a, b = read_metrics(straight), read_metrics(split)
  keys = ("reward_mean", "step_time_mean", "best_step_time", "total_loss", "entropy")
  for row_a, row_b in zip(a, b, strict=True):
    for key in keys:
      assert row_a[key] == row_b[key], (row_a["step"], key)


@pytest.mark.slow
def test_go_one_learns_to_spread_chains(problem):
  config = make_config(num_iterations=150)
  result = train.train(config, problem)
  first = np.mean([r["step_time_mean"] for r in result.history[:5]])
  last = np.mean([r["step_time_mean"] for r in result.history[-5:]])
  assert last < 0.9 * first, (first, last)  # measured: ~354 ms -> ~270 ms in 150 iterations
  assert result.best_step_time < 0.75 * result.reference_step_time


def test_minibatches_must_divide_the_samples_per_graph(problem):
  config = make_config()
  config.ppo.num_minibatches = 3  # K = 8
  network, it_config = train.make_network(config), train.iteration_config(config)
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 4, [0.4])
  state = iteration.init_state(network, it_config, batch, seed=0)
  with pytest.raises(ValueError, match="num_minibatches 3 does not divide num_samples 8"):
    iteration.train_iteration(state, batch, network=network, config=it_config)


def test_split_minibatches_keeps_each_vector_once():
  # (G=2, K=4) vectors cut into M=2 minibatches of (G, 2): every vector of every graph appears once,
  # with its own advantage (the fields are shuffled together).
  advantage = np.arange(8, dtype=np.float32).reshape(2, 4)
  old_log_prob = np.repeat(advantage[..., None], 3, axis=-1)  # (G, K, Np=3), tagged by the advantage
  actions = simulator.Decisions(*(np.zeros((2, 4, 3), np.int32),) * 3)
  from go_jax.rl import losses  # pylint: disable=g-import-not-at-top
  transitions = losses.Transitions(graphs=None, num_devices=None, node_mask=np.ones((2, 1, 3), bool),
                                   actions=actions, old_log_prob=old_log_prob, advantage=advantage,
                                   returns=advantage)
  split = iteration.split_minibatches(transitions, jax.random.key(0), 2)
  assert split.advantage.shape == (2, 2, 2) and split.old_log_prob.shape == (2, 2, 2, 3)
  for graph in range(2):
    np.testing.assert_array_equal(np.sort(np.asarray(split.advantage[:, graph]).ravel()), advantage[graph])
  np.testing.assert_array_equal(np.asarray(split.old_log_prob[..., 0]), np.asarray(split.advantage))


def test_tasks_the_policy_does_not_decide_keep_the_base_decisions():
  """Hand-made actions and base: each field comes from the policy only where its task is on."""
  actions = policy_lib.Decisions(placement=np.array([[1, 2, 3]]), priority=np.array([[5, 6, 7]]),
                                 fusion=np.array([[1, 0, 1]]))
  leader = np.array([[0, 0, 2]])  # node 1 is colocated with node 0
  base = simulator.Decisions(np.array([3, 3, 0]), np.array([0.5, 0.0, 1.5], np.float32),
                             np.array([False, True, False]))
  own = iteration.to_sim_decisions(actions, leader)
  np.testing.assert_array_equal(own.placement, [[1, 1, 3]])
  np.testing.assert_array_equal(own.priority, [[5, 6, 7]])
  only_scheduling = iteration.to_sim_decisions(actions, leader, base, ("scheduling",))
  np.testing.assert_array_equal(only_scheduling.placement, [[3, 3, 0]])
  np.testing.assert_array_equal(only_scheduling.priority, [[5, 6, 7]])
  np.testing.assert_array_equal(only_scheduling.fusion, [[False, True, False]])
  placement_and_fusion = iteration.to_sim_decisions(actions, leader, base, ("placement", "fusion"))
  np.testing.assert_array_equal(placement_and_fusion.placement, [[1, 1, 3]])
  np.testing.assert_array_equal(placement_and_fusion.priority, [[0.5, 0.0, 1.5]])
  np.testing.assert_array_equal(placement_and_fusion.fusion, [[True, False, True]])


def test_canonical_device_labels_are_what_ppo_simulates_and_learns(problem):
  from go_jax.rl import symmetry
  config = make_config()
  config.ppo.canonical_devices = True
  network, it_config = train.make_network(config), train.iteration_config(config)
  assert it_config.canonical_devices
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 4, [0.4], canonical_devices=True)
  assert batch.device_group.shape == (1, 24, 4)  # v100x4: its 8 relabelings, padded to 4! rows
  state = iteration.init_state(network, it_config, batch, seed=0)
  state, metrics = iteration.train_iteration(state, batch, network=network, config=it_config)
  assert np.isfinite(float(metrics["total_loss"]))
  n = problem.graph.num_nodes
  best = np.asarray(state.best_decisions.placement[0])
  again = symmetry.canonical_placement(best, np.arange(len(best)), batch.graphs.nodes["topo_rank"][0],
                                       batch.node_mask[0], batch.device_group[0])
  np.testing.assert_array_equal(np.asarray(again)[:n], best[:n])  # the kept best is a canonical labeling
  assert best[problem.graph.topological_order[0]] == 0  # the first node's device is always device 0
  result, _ = simulator.simulate_reference(problem.graph, problem.cluster,
                                           jax.tree.map(lambda x: np.asarray(x[0][:n]), state.best_decisions))
  np.testing.assert_allclose(result.step_time, float(state.best_step_time[0]), rtol=1e-4)


def test_scheduling_only_policy_runs_on_the_batch_base_placement(problem):
  config = make_config(tasks="scheduling")
  network = train.make_network(config)
  num_nodes = problem.graph.num_nodes
  base = simulator.default_decisions(num_nodes, np.arange(num_nodes) % 3)
  batch = iteration.make_graph_batch([problem.graph], problem.cluster, 4, [0.4], base=[base])
  state = iteration.init_state(network, train.iteration_config(config), batch, seed=0)
  greedy = iteration.greedy_decisions(state.params, batch, network)
  np.testing.assert_array_equal(np.asarray(greedy.placement[0, :num_nodes]), np.arange(num_nodes) % 3)
  assert not np.any(np.asarray(greedy.fusion))
  with pytest.raises(ValueError, match=r"shape \(3,\), expected"):
    iteration.make_graph_batch([problem.graph], problem.cluster, 4, [0.4],
                               base=[simulator.default_decisions(3)])
  # Placement heuristics' warm start and the relaxed descent need the placement task: both are off.
  assert train.pathwise_config(make_config(tasks="scheduling", pathwise=dict(steps=8, start_smoothing=1e-3,
                                                                               end_smoothing=1e-5,
                                                                               anneal_iterations=60))).steps == 0


def test_pathwise_anneal_over_the_planned_iterations():
  from go_jax import errors
  from go_jax.rl import config as rl_config
  config = rl_config.get_default_config()
  config.tasks = "placement"
  assert train.pathwise_config(config).anneal_iterations == 60  # an explicit length is kept
  config.pathwise.anneal_iterations = 0
  # 16 samples + 16 relaxed steps + the argmax's score = 33 evaluations per iteration.
  assert train.evaluations_per_iteration(config) == 33
  assert train.pathwise_config(config, budget=1280).anneal_iterations == 1280 // 33 == 38
  config.num_iterations = 10
  assert train.pathwise_config(config, budget=1280).anneal_iterations == 10
  assert train.pathwise_config(config, budget=5).anneal_iterations == 1
  config.pathwise.anneal_iterations = -1
  with pytest.raises(errors.InputError, match=r"anneal_iterations must be >= 0 .*got -1"):
    train.pathwise_config(config)


def test_effective_config_drops_fields_of_tasks_not_decided():
  # Stored results rows are keyed by the effective config: a scheduling-only field must not
  # invalidate placement-only rows, and must distinguish runs that decide scheduling.
  from go_jax.rl import config as rl_config
  config = rl_config.get_default_config()
  config.tasks = "placement"
  placement_only = rl_config.effective(config)
  assert "scheduling_teachers" not in placement_only["imitation"]
  assert "fusion_teachers" not in placement_only["imitation"]
  assert placement_only["imitation"]["teachers"] == config.imitation.teachers
  config.imitation.scheduling_teachers = "critical_path"
  assert rl_config.effective(config) == placement_only
  config.tasks = "placement,scheduling"
  joint = rl_config.effective(config)
  assert joint["imitation"]["scheduling_teachers"] == "critical_path"
  assert "fusion_teachers" not in joint["imitation"]


def test_resume_check_ignores_options_added_later_while_off(tmp_path):
  # A workdir written before model.context_to_nodes existed: its config.json lacks the field.
  config = test_config.get_config()
  path = str(tmp_path / "config.json")
  saved = json.loads(config.to_json())
  del saved["model"]["context_to_nodes"]
  with open(path, "w") as f:
    json.dump(saved, f)
  train.check_config(config, path)  # off: the same run, resumable
  with open(path) as f:
    assert json.load(f)["model"]["context_to_nodes"] is False  # rewritten with the new field
  saved["model"]["hidden_size"] += 1  # any other change still refuses to resume
  with open(path, "w") as f:
    json.dump(saved, f)
  with pytest.raises(Exception, match=r"config.json: the run in this workdir used a different config for model"):
    train.check_config(config, path)
  on = test_config.get_config()
  on.model.context_to_nodes = True  # and so does switching the new option on
  saved["model"]["hidden_size"] -= 1  # the old workdir again, still without the field
  with open(path, "w") as f:
    json.dump(saved, f)
  with pytest.raises(Exception, match="different config for model"):
    train.check_config(on, path)
