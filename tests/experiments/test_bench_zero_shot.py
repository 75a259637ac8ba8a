"""``python -m experiments.bench_zero_shot`` and its library (go_jax/rl/benchmark.py)."""

import numpy as np
import pytest

from go_jax.graph import features
from go_jax.rl import benchmark
from go_jax.rl import pretrained
from simulator import bench as simulator_bench
from simulator import cluster as cluster_lib
from tests import cli_run


def _run(*args):
  return cli_run.run_module("experiments.bench_zero_shot", *args)


def test_the_two_halves_are_zero_shot():
  policy = pretrained.load_policy()
  graph, cluster = simulator_bench.random_graph(90, seed=3), cluster_lib.get_cluster("v100x4")
  inputs = pretrained.greedy_inputs(policy, graph, cluster)
  assert inputs.leader.shape == (features.bucket_size(91),) and int(inputs.num_devices) == 4
  halves, whole = pretrained.greedy_decisions(policy, inputs), pretrained.zero_shot(policy, graph, cluster)
  for got, want in zip(halves, whole):
    np.testing.assert_array_equal(got, want)
  assert whole.placement.shape == (90,) and whole.placement.max() < 4


def test_measure_zero_shot_times_every_stage():
  policy = pretrained.load_policy()
  graph, cluster = simulator_bench.random_graph(100), cluster_lib.get_cluster("v100x4")
  row = benchmark.measure_zero_shot(policy, graph, cluster, repeats=2, heuristic="single")
  assert (row.num_nodes, row.padded_nodes, row.repeats, row.heuristic) == (100, features.bucket_size(101), 2,
                                                                           "single")
  assert row.cold_seconds > row.forward_seconds > 0  # the cold call compiles
  assert min(row.inputs_seconds, row.warm_seconds, row.heuristic_seconds, row.exact_seconds) > 0
  section = benchmark.zero_shot_section([row], policy, cluster, 1.0, "python -m experiments.bench_zero_shot")
  assert section.startswith("## Zero-shot inference (pretrained policy)")
  assert f"| {graph.name} | 100 | {row.padded_nodes} | " in section


@pytest.mark.parametrize("kwargs, message", [({"repeats": 0}, "repeats must be >= 1"),
                                             ({"heuristic": "nope"}, "unknown heuristic 'nope'")])
def test_measure_zero_shot_rejects_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    benchmark.measure_zero_shot(pretrained.load_policy(), simulator_bench.random_graph(10),
                                cluster_lib.get_cluster("v100x4"), **kwargs)


def test_cli_appends_its_section(tmp_path):
  out = tmp_path / "BENCHMARKS.md"
  out.write_text("# Benchmarks\n\nkept\n")
  proc = _run("--graphs=random:50", "--repeats=1", "--heuristic=single", f"--append={out}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  text = out.read_text()
  assert text.startswith("# Benchmarks\n\nkept\n") and "| random50 | 50 | " in text


@pytest.mark.parametrize("args, message", [
    (["--graphs=random:x"], "random:N needs a node count"),
    (["--graphs=/nonexistent/g.hlo"], "no such file"),
    (["--heuristic=nope"], "--heuristic=nope: unknown method"),
    (["--repeats=0"], "--repeats must be >= 1"),
])
def test_bad_input_is_one_line_exit_2(args, message):
  cli_run.check_input_error(_run(*args), message)
