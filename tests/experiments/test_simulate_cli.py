"""End-to-end runs of ``python -m experiments.simulate`` (the thin launcher)."""

import json
import os
import subprocess
import sys

import pytest

from tests.simulator import test_conformance

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _run(*args):
  return subprocess.run([sys.executable, "-m", "experiments.simulate", *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=120)


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
  proc = _run(f"--graph={layer}", f"--placement={bad}")
  assert proc.returncode == 2
  assert "Traceback" not in proc.stderr
  assert proc.stderr.strip().count("\n") == 0 and "decisions.json" in proc.stderr
