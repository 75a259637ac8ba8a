"""End-to-end tests of ``python -m experiments.evaluate`` (real subprocesses)."""

import json
import os
import subprocess
import sys

from tests import shared_data

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args):
  return subprocess.run([sys.executable, "-m", "experiments.evaluate", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=600)


def test_table_and_json_records(tmp_path):
  graph = shared_data.path("pipedream", "inception_v3")
  out_file = tmp_path / "records.json"
  out = run_cli(f"--graph={graph}", "--cluster=v100x8", "--devices=2", "--methods=single,heft,expert",
                f"--json_out={out_file}")
  assert out.returncode == 0, out.stderr
  assert "heft" in out.stdout and "lower bound" in out.stdout
  records = json.loads(out_file.read_text())
  assert [r["method"] for r in records] == ["single", "heft", "expert"]
  for r in records:
    for key in ("graph", "method", "step_time", "lower_bound", "oom", "evaluations", "search_seconds"):
      assert key in r
  single, heft, expert = records
  assert heft["step_time"] <= single["step_time"] and single["step_time"] >= single["lower_bound"]
  assert expert["step_time"] is None and "no human-expert placement" in expert["notes"]


def test_bad_method_and_cluster_are_one_line_errors():
  graph = shared_data.path("pipedream", "alexnet")
  out = run_cli(f"--graph={graph}", "--methods=single,telepathy")
  assert out.returncode == 2 and "unknown method(s) telepathy" in out.stderr and "Traceback" not in out.stderr
  out = run_cli(f"--graph={graph}", "--cluster=abacus")
  assert out.returncode == 2 and "abacus" in out.stderr and "Traceback" not in out.stderr
