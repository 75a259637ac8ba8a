"""End-to-end runs of ``python -m experiments.simulate`` (the thin launcher)."""

import json
import os

import pytest

from tests import cli_run
from tests.simulator import test_conformance


def _run(*args):
  return cli_run.run_module("experiments.simulate", *args, timeout=120)


def test_expert_split_json():
  layer = os.path.join(test_conformance.DATA, "throughput-inputs", "LayerGraphs", "gnmt_inference.json")
  if not os.path.exists(layer):
    pytest.skip("dnn-partitioning data not found")
  expert = os.path.join(test_conformance.DATA, "human-experts", "gnmt_inference_expert.json")
  proc = _run(f"--graph={layer}", f"--placement={expert}", "--objective=max_load", "--json")
  assert proc.returncode == 0, proc.stderr
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  assert report["max_load"] * 1e3 == pytest.approx(46.2085, abs=1e-3)
  assert len(report["peak_memory"]) == 7 and report["oom"] is False
  assert report["step_time"] >= report["lower_bound"]


def test_bad_decisions_file_one_line_exit_2(tmp_path):
  layer = os.path.join(test_conformance.DATA, "throughput-inputs", "LayerGraphs", "gnmt_inference.json")
  if not os.path.exists(layer):
    pytest.skip("dnn-partitioning data not found")
  bad = tmp_path / "decisions.json"
  bad.write_text(json.dumps({"placement": [0, 1]}))
  cli_run.check_input_error(_run(f"--graph={layer}", f"--placement={bad}"), "decisions.json", only_line=True)
