"""``python -m experiments.optimize`` and the policy shipped in go_jax/pretrained/."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import optimize_lib
from experiments import simulate_lib
from go_jax import evaluation
from go_jax.graph import loading
from go_jax.rl import pretrained
import simulator
from simulator import cluster as cluster_lib
from tests import cli_run

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _run(*args):
  return cli_run.run_module("experiments.optimize", *args)


@pytest.fixture(scope="module")
def hlo_path(tmp_path_factory):
  """HLO text of a two-layer MLP training step, written the way users export it from JAX."""

  def loss(params, x, y):
    hidden = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] - y) ** 2)

  def train_step(params, x, y):
    grads = jax.grad(loss)(params, x, y)
    return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)

  params = {"w1": jnp.zeros((256, 512)), "b1": jnp.zeros(512), "w2": jnp.zeros((512, 10))}
  text = jax.jit(train_step).lower(params, jnp.zeros((64, 256)), jnp.zeros((64, 10))).as_text(dialect="hlo")
  path = tmp_path_factory.mktemp("hlo") / "mlp_step.hlo"
  path.write_text(text)
  return str(path)


def test_shipped_policy_gives_valid_decisions_for_an_hlo_graph(hlo_path, tmp_path):
  policy = pretrained.load_policy()  # the shipped checkpoint
  assert policy.path == os.path.abspath(pretrained.SHIPPED_DIR) and policy.step > 0
  graph = loading.load_graph(hlo_path)
  cluster = cluster_lib.get_cluster("v100x4")
  decisions = pretrained.zero_shot(policy, graph, cluster)
  assert decisions.placement.shape == (graph.num_nodes,)
  assert 0 <= decisions.placement.min() and decisions.placement.max() < 4
  assert np.all((decisions.priority >= 0) & (decisions.priority < policy.network.num_priority_levels))
  result, _ = simulator.simulate_reference(graph, cluster, decisions)
  assert np.isfinite(result.step_time) and result.step_time > 0
  # The decisions file is what experiments.simulate reads back, node for node.
  out = tmp_path / "decisions.json"
  optimize_lib.write_json_atomically(optimize_lib.decisions_to_dict(graph, cluster.name, decisions), str(out))
  raw = json.loads(out.read_text())
  assert raw["node_names"] == list(graph.node_names) and len(raw["fusion"]) == graph.num_nodes
  read = simulate_lib.load_decisions(str(out), graph, cluster)
  np.testing.assert_array_equal(read.placement, decisions.placement)
  np.testing.assert_array_equal(read.priority, decisions.priority)
  np.testing.assert_array_equal(read.fusion, decisions.fusion)
  assert [p.name for p in tmp_path.iterdir()] == ["decisions.json"]  # no temporary file left behind


def test_optimize_compares_with_the_heuristics(hlo_path, tmp_path):
  out = str(tmp_path / "d.json")
  report = optimize_lib.optimize(hlo_path, "v100x4", out=out, methods=["single", "contiguous"], progress=None)
  assert [r["method"] for r in report["records"]] == ["go", "single", "contiguous"]
  assert report["go_step_time"] == report["records"][0]["step_time"] > 0
  assert report["best_baseline"] in ("single", "contiguous")
  assert report["best_baseline_step_time"] == min(r["step_time"] for r in report["records"][1:] if not r["oom"])
  with open(out) as f:
    saved = json.load(f)
  assert saved["step_time"] == report["go_step_time"] and saved["method"] == "go"
  assert report["decisions"] == evaluation.summarize_decisions(simulate_lib.load_decisions(
      out, loading.load_graph(hlo_path), simulate_lib.load_cluster("v100x4", None)), 4)


def test_summarize_by_hand():
  decisions = simulator.Decisions(np.array([3, 3, 0, 3, 1], np.int32), np.array([0.0, 2.0, 2.0, 0.0, 5.0]),
                                  np.array([True, False, True, True, False]))
  summary = evaluation.summarize_decisions(decisions, 4)
  assert summary == {"ops_per_device": [1, 1, 0, 3], "priority_levels": 3, "fused_ops": 3}
  assert (evaluation.describe_decisions(summary, 5)
          == "ops per device [1, 1, 0, 3], 3 priority level(s), 3 of 5 ops fused")


@pytest.mark.slow
def test_cli_end_to_end(hlo_path, tmp_path):
  out = tmp_path / "decisions.json"
  proc = _run(f"--graph={hlo_path}", "--cluster=v100x4", f"--out={out}", "--methods=single,contiguous")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "go" in proc.stdout and "zero-shot forward pass" in proc.stdout
  sim = subprocess.run([sys.executable, "-m", "experiments.simulate", f"--graph={hlo_path}", "--cluster=v100x4",
                        f"--placement={out}", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert sim.returncode == 0, sim.stderr[-2000:]
  assert json.loads(sim.stdout.strip().splitlines()[-1])["step_time"] > 0


@pytest.mark.parametrize("args, message", [
    (["--graph=/nonexistent/graph.hlo", "--cluster=v100x4"], "no such file"),
    (["--graph=rnnlm_2", "--cluster=nope_cluster"], "unknown cluster"),
    (["--graph=rnnlm_2", "--cluster=v100x4", "--checkpoint=/nonexistent"], "not a GO run directory"),
    (["--graph=rnnlm_2", "--cluster=v100x4", "--out=/nonexistent/dir/d.json"], "does not exist"),
    (["--graph=rnnlm_2", "--cluster=v100x4", "--finetune_steps=-1"], "finetune_steps"),
])
def test_bad_input_is_one_line_exit_2(args, message):
  cli_run.check_input_error(_run(*args), message)
