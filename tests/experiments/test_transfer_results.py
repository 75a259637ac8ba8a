"""``python -m experiments.transfer_results`` on tiny settings (the real run takes hours on a CPU)."""

import json
import os
import subprocess
import sys

import pytest

from experiments import transfer_lib

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_first_within():
  assert transfer_lib._first_within([5.0, 4.0, 3.0, 2.0], 3.0) == 3  # pylint: disable=protected-access
  assert transfer_lib._first_within([5.0, 4.0], 3.0) is None  # pylint: disable=protected-access


def test_markdown_has_one_row_per_family(tmp_path):
  record = {"family": "rnnlm", "target": "rnnlm_2", "nodes": 913, "cluster": "v100x4", "pretrain_iterations": 2,
            "pretrain_graphs_seen": 4, "pretrain_seconds": 1.0, "training_set": 0, "zero_shot_step_time": 0.4,
            "zero_shot_seconds": 1.0, "finetune_step_time": {"50": 0.3, "200": 0.2}, "finetune_seconds": 1.0,
            "go_one_step_time": 0.25, "go_one_seconds": 1.0, "best_baseline": "single",
            "best_baseline_step_time": 0.1, "steps_within_5pct_of_go_one": 200}
  path = tmp_path / "transfer.md"
  transfer_lib.write_markdown([record, {**record, "family": "txl", "steps_within_5pct_of_go_one": None}],
                              str(path), "python -m experiments.transfer_results ...")
  text = path.read_text()
  assert "| rnnlm | rnnlm_2 (913) | 400 | 300 | 200 | 250 | single 100 | 200 |" in text
  assert "| txl |" in text and "not reached" in text


@pytest.mark.slow  # pretrains, fine-tunes and trains GO-one (about 5-10 minutes on a loaded 2-core CPU)
def test_tiny_end_to_end(tmp_path):
  out = tmp_path / "transfer.md"
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.transfer_results", f"--workdir={tmp_path / 'runs'}", "--families=rnnlm",
       "--config=experiments/configs/pretrain_test.py", "--config.num_iterations=2", "--finetune_steps=2,3",
       "--baselines=single,contiguous", f"--out={out}"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
  assert proc.returncode == 0, proc.stderr[-3000:]
  [record] = json.loads(proc.stdout.strip().splitlines()[-1])
  assert record["family"] == "rnnlm" and set(record["finetune_step_time"]) == {"2", "3"}
  assert record["finetune_step_time"]["3"] <= record["finetune_step_time"]["2"]
  assert record["best_baseline"] in ("single", "contiguous") and "| rnnlm |" in out.read_text()
