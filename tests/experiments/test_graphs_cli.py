"""End-to-end tests of ``python -m experiments.graphs`` (real subprocesses)."""

import json

import pytest

from go_jax.graph import serialization
from tests import cli_run
from tests import shared_data
from tests.graph import test_external_importers
from tests.graph import test_graph


def run_cli(*args):
  return cli_run.run_module("experiments.graphs", *args, timeout=300)


def test_json_summary_of_our_format(tmp_path):
  path = tmp_path / "d.gograph.npz"
  serialization.save(test_graph.diamond(), path)
  out = run_cli(f"--graph={path}", "--json")
  assert out.returncode == 0, out.stderr
  summary = json.loads(out.stdout)
  assert (summary["nodes"], summary["edges"], summary["depth"], summary["flops"]) == (4, 4, 3, 16.0)


def test_text_summary_and_save_of_shared_file(tmp_path):
  source = shared_data.path("pipedream", "resnet50", "graph.txt")
  saved = tmp_path / "r50.gograph.npz"
  out = run_cli(f"--graph={source}", f"--save={saved}")
  assert out.returncode == 0, out.stderr
  assert "nodes            177" in out.stdout and "conv" in out.stdout
  again = run_cli(f"--graph={saved}", "--json")
  assert json.loads(again.stdout)["nodes"] == 177


@pytest.mark.parametrize("content,fragment", [
    ('{"maxSizePerFPGA": 1, "nodes": [', "invalid JSON"),
    (test_external_importers.TINY_PIPEDREAM.replace("FancyNewLayer", "ReLU") + "\tnode4 -- node2\n", "has a cycle"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, fragment):
  name = "graph.txt" if content.startswith("node") else "bad.json"
  path = tmp_path / name
  path.write_text(content)
  out = run_cli(f"--graph={path}", "--json")
  assert out.stdout == ""
  cli_run.check_input_error(out, str(path), fragment, only_line=True)


def test_missing_file_and_bad_flags():
  out = run_cli("--graph=/no/such/file.json")
  cli_run.check_input_error(out, "no such file")
  cli_run.check_input_error(run_cli(), "exactly one of")


def test_json_summary_of_hlo_training_step(tmp_path):
  """The issue's acceptance check: an HLO dump of a Flax training step with thousands of instructions."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from tests.graph import test_hlo_import  # pylint: disable=g-import-not-at-top

  model = test_hlo_import._Transformer()  # pylint: disable=protected-access
  tokens = jnp.zeros((4, 32), jnp.int32)
  params = jax.eval_shape(model.init, jax.random.PRNGKey(0), tokens)
  optimizer = optax.adam(1e-3)

  def train_step(params, opt_state, tokens):
    def loss_fn(p):
      logits = model.apply(p, tokens)
      return optax.softmax_cross_entropy_with_integer_labels(logits, tokens).mean()
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  text = jax.jit(train_step).lower(params, jax.eval_shape(optimizer.init, params), tokens).as_text(dialect="hlo")
  path = tmp_path / "train_step.hlo"
  path.write_text(text)
  out = run_cli(f"--graph={path}", "--json")
  assert out.returncode == 0, out.stderr
  summary = json.loads(out.stdout)
  instructions = sum(1 for line in text.splitlines() if " = " in line)
  assert instructions > 2000
  assert 0.5 * instructions < summary["nodes"] <= instructions
  assert summary["edges"] > summary["nodes"] and summary["depth"] > 100 and summary["flops"] > 1e7
  assert summary["op_types"]["dot"] > 90
