"""GO-batch pretraining, loading a trained policy, zero-shot decisions, fine-tuning, the ``go`` method.

The tiny pretraining config below (test network, synthetic graphs of ~60-110
nodes in one 128-node bucket, one cluster shape) compiles ``train_iteration``
once for the whole module; every later iteration takes a fraction of a second.
"""

import json
import os

import jax
import ml_collections
import numpy as np
import pytest

from experiments.configs import pretrain_test as pretrain_test_config
from go_jax import errors
from go_jax import evaluation
from go_jax.graph import synthetic
from go_jax.rl import pretrain
from go_jax.rl import pretrained
from go_jax.rl import toy_graphs
import simulator
from simulator import cluster as cluster_lib
from tests import cli_run
from tests import shared_data

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TEST_CONFIG = os.path.join(ROOT, "experiments", "configs", "pretrain_test.py")


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  config = pretrain_test_config.get_config()
  for name, value in overrides.items():
    config[name] = value
  return config


def read_metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


# ---------------------------------------------------------------------------
# Pure pieces.
# ---------------------------------------------------------------------------


def test_family_of_third_party_models():
  assert pretrain.family_of("bert24_training") == "bert"
  assert pretrain.family_of("resnext50") == "resnet"
  assert pretrain.family_of("inceptionv3_inference") == "inception"
  assert pretrain.family_of("GNMT") == "gnmt"
  assert pretrain.family_of("vgg16") == "vgg16"


def test_bucket_of_needs_room_for_nodes_and_edges():
  graph = toy_graphs.parallel_chains()  # 4 x (1 + 6) + 1 = 29 nodes, 4 x 7 = 28 edges
  assert pretrain.bucket_of(graph, [16, 32, 64], edge_ratio=2) == 32
  assert pretrain.bucket_of(graph, [16, 32, 64], edge_ratio=0) is None
  assert pretrain.bucket_of(graph, [16], edge_ratio=2) is None


def test_bad_config_values_are_one_line_input_errors():
  with pytest.raises(Exception, match="buckets"):
    pretrain.buckets_of(tiny_config(buckets="100"))
  with pytest.raises(Exception, match="clusters"):
    pretrain.BatchSampler(tiny_config(clusters="nope"), [], 8)
  with pytest.raises(Exception, match="holdout"):
    pretrain.pretrain_and_save(tiny_config(holdout="nope"), "/nonexistent/never/created")
  config = tiny_config()
  config.model.node_logit_scale = 16.0
  with pytest.raises(errors.InputError, match="node_logit_scale=16.0: free per-node logits"):
    pretrain.pretrain_and_save(config, "/nonexistent/never/created")


def test_training_set_leaves_out_the_holdout_family():
  root = shared_data.path("pipedream")
  config = tiny_config(shared_data=os.path.dirname(root), buckets="256,512,1024,2048", zoo_variants="")
  everything = pretrain.load_training_set(config)
  families = {item.family for item in everything}
  assert {"gnmt", "resnet", "inception"} <= families
  assert all(item.graph.num_nodes < 2048 for item in everything)
  without = pretrain.load_training_set(tiny_config(shared_data=config.shared_data, buckets=config.buckets,
                                                   holdout="gnmt"))
  assert "gnmt" not in {item.family for item in without}
  assert len(without) == len(everything) - sum(item.family == "gnmt" for item in everything)


def test_sampler_is_a_function_of_the_step():
  config = tiny_config()
  sampler = pretrain.BatchSampler(config, [], max_devices=8)
  batch, info = sampler.sample(5)
  again, _ = pretrain.BatchSampler(config, [], max_devices=8).sample(5)
  for a, b in zip(jax.tree.leaves(batch), jax.tree.leaves(again)):
    np.testing.assert_array_equal(a, b)
  assert batch.node_mask.shape == (2, 128) and batch.sim_graphs.senders.shape == (2, 256)
  assert batch.cluster.name == "pretrain" and info.cluster in ("v100x8", "a100x8")
  assert np.all(batch.reference_step_time > 0) and np.all(batch.upper_bound > batch.reference_step_time)
  devices = {d for step in range(12) for d in sampler.sample(step)[1].num_devices}
  assert devices == {2, 4, 8}  # the device count is an input per graph, not a constant
  other, _ = sampler.sample(6)
  assert not np.array_equal(np.asarray(other.node_mask), np.asarray(batch.node_mask)) or not np.array_equal(
      np.asarray(other.sim_graphs.flops), np.asarray(batch.sim_graphs.flops))


# ---------------------------------------------------------------------------
# End to end (one compilation for the module).
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("pretrain"))
  summary = pretrain.pretrain_and_save(tiny_config(), path)
  assert summary["iterations"] == 3 and summary["graphs_seen"] == 6
  return path


def test_run_directory_layout(workdir):
  rows = read_metrics(workdir)
  assert [r["step"] for r in rows] == [1, 2, 3]
  assert all(np.isfinite(r["total_loss"]) and r["bucket"] == 128 and r["graphs"] == 2 for r in rows)
  assert "eta_s" in rows[-1] and "eta_s" not in rows[0]  # the first iteration compiles: no rate yet
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "3"]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["buckets"] == "128"


@pytest.mark.slow  # ~2.5 min on a loaded 2-core CPU: the restored state compiles the iteration again
def test_resume_equals_an_uninterrupted_run(workdir, tmp_path):
  # Continue the 3-iteration run to 5; compare with 5 iterations in one go.
  summary = pretrain.pretrain_and_save(tiny_config(num_iterations=5), workdir)
  earlier = read_metrics(workdir)[2]["wall_s"]  # the first process's 3 iterations
  assert summary["total_wall_s"] >= summary["wall_s"] + earlier > summary["wall_s"] > 0
  straight = str(tmp_path / "straight")
  pretrain.pretrain_and_save(tiny_config(num_iterations=5), straight)
  resumed_policy, straight_policy = pretrained.load_policy(workdir), pretrained.load_policy(straight)
  assert resumed_policy.step == straight_policy.step == 5
  for a, b in zip(jax.tree.leaves(resumed_policy.params), jax.tree.leaves(straight_policy.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert [r["step"] for r in read_metrics(workdir)] == [1, 2, 3, 4, 5]
  with pytest.raises(Exception, match="different config"):
    pretrain.pretrain_and_save(tiny_config(num_iterations=6, buckets="256"), workdir)


@pytest.fixture(scope="module")
def target():
  """One unseen graph for the zero-shot tests (one bucket: one compilation of the greedy pass)."""
  return synthetic.generate(11, 300, "branching")


def test_zero_shot_decisions_are_valid(workdir, target):
  policy = pretrained.load_policy(workdir)
  graph = target
  cluster = cluster_lib.get_cluster("v100x4")
  decisions = pretrained.zero_shot(policy, graph, cluster)
  assert decisions.placement.shape == decisions.priority.shape == decisions.fusion.shape == (graph.num_nodes,)
  assert decisions.placement.min() >= 0 and decisions.placement.max() < 4
  assert np.all((decisions.priority >= 0) & (decisions.priority < policy.network.num_priority_levels))
  # Greedy: the same call gives the same decisions; colocated ops share a device.
  again = pretrained.zero_shot(policy, graph, cluster)
  np.testing.assert_array_equal(decisions.placement, again.placement)
  for group in np.unique(graph.colocation[graph.colocation >= 0]):
    assert np.unique(decisions.placement[graph.colocation == group]).size == 1
  result, _ = simulator.simulate_reference(graph, cluster, decisions)
  assert np.isfinite(result.step_time) and result.step_time > 0


def test_go_method_uses_the_problem_checkpoint(workdir, target):
  graph = target
  problem = evaluation.Problem(graph, cluster_lib.get_cluster("v100x4"), checkpoint=workdir)
  records = evaluation.evaluate(problem, pretrained.METHODS, ["go"])
  assert records[0]["evaluations"] == 0 and records[0]["step_time"] > 0
  assert "iteration 5" in records[0]["notes"] or "iteration 3" in records[0]["notes"]
  decisions = pretrained.zero_shot(pretrained.load_policy(workdir), graph, problem.cluster)
  counts = np.bincount(decisions.placement, minlength=4).tolist()
  assert f"ops per device {counts}" in records[0]["notes"]  # what the decisions do, at a glance
  bad = evaluation.Problem(graph, problem.cluster, checkpoint=str(os.path.dirname(workdir)))
  with pytest.raises(Exception, match="config.json"):
    pretrained.go(bad)


@pytest.mark.slow  # compiles the iteration and the greedy pass for another bucket
def test_finetune_never_returns_worse_than_zero_shot(workdir):
  policy = pretrained.load_policy(workdir)
  config = ml_collections.ConfigDict(policy.config.to_dict())
  problem = evaluation.Problem(toy_graphs.parallel_chains(), cluster_lib.get_cluster("v100x4"))
  curve_steps = []
  result = pretrained.finetune(policy, problem, steps=3, config=config,
                               progress_fn=lambda step, metrics: curve_steps.append(step))
  assert curve_steps == [1, 2, 3] and len(result.curve) == 3 and result.iterations == 3
  assert all(b <= a for a, b in zip(result.curve, result.curve[1:]))  # best so far never rises
  assert result.step_time <= result.zero_shot_step_time * (1 + 1e-9)
  assert result.evaluations == 3 * config.ppo.num_samples + 3


def _launch(*args):
  return cli_run.run_module("experiments.pretrain", *args, timeout=900)


def test_fingerprint_follows_the_checkpoint_contents(tmp_path):
  """The ``go`` method's stored rows are keyed by it: same files, same print; one byte changed, another."""
  import shutil  # pylint: disable=g-import-not-at-top
  copy = tmp_path / "policy"
  shutil.copytree(pretrained.SHIPPED_DIR, copy, ignore=shutil.ignore_patterns("metrics.jsonl", "*.md"))
  shipped = pretrained.fingerprint()
  assert len(shipped) == 16 and pretrained.fingerprint(str(copy)) == shipped
  config = copy / "config.json"
  config.write_text(config.read_text().replace('"seed": 0', '"seed": 1'))
  assert pretrained.fingerprint(str(copy)) != shipped
  with pytest.raises(errors.InputError, match="not a GO run directory with a checkpoint"):
    pretrained.fingerprint(str(tmp_path))


def test_launcher_bad_holdout_is_one_line_exit_2(tmp_path):
  proc = _launch(f"--config={TEST_CONFIG}", f"--workdir={tmp_path}", "--config.holdout=nope")
  assert cli_run.check_input_error(proc).startswith("error: --config.holdout='nope'")


@pytest.mark.slow
def test_launcher_end_to_end(tmp_path):
  workdir = str(tmp_path / "run")
  proc = _launch(f"--config={TEST_CONFIG}", f"--workdir={workdir}", "--config.num_iterations=2")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert json.loads(proc.stdout.strip().splitlines()[-1])["iterations"] == 2
  assert "[pretrain] it     2" in proc.stderr and "ETA" in proc.stderr
  assert pretrained.load_policy(workdir).step == 2
