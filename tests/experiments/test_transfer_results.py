"""``python -m experiments.transfer_results`` on tiny settings (the real run takes hours on a CPU)."""

import json
import os
import subprocess
import sys

import pytest

from experiments import rows
from experiments import transfer_lib
from experiments.configs import pretrain as pretrain_config
from go_jax import errors
from tests import cli_run

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_first_within():
  assert transfer_lib._first_within([5.0, 4.0, 3.0, 2.0], 3.0) == 3  # pylint: disable=protected-access
  assert transfer_lib._first_within([5.0, 4.0], 3.0) is None  # pylint: disable=protected-access


def test_markdown_has_one_row_per_family(tmp_path):
  record = {"family": "rnnlm", "target": "rnnlm_2", "nodes": 913, "cluster": "v100x4", "pretrain_iterations": 2,
            "pretrain_graphs_seen": 4, "pretrain_seconds": 1.0, "training_set": 0, "zero_shot_step_time": 0.4,
            "zero_shot_seconds": 1.0, "finetune_step_time": {"50": 0.3, "200": 0.2}, "finetune_seconds": 1.0,
            "go_one_step_time": 0.25, "go_one_seconds": 1.0, "best_baseline": "single",
            "best_baseline_step_time": 0.1, "steps_within_5pct_of_go_one": 20, "go_one_steps_within_5pct": 180,
            "finetune_curve": [0.4, 0.3, 0.2], "go_one_curve": [0.9, 0.5, 0.25]}
  path = tmp_path / "transfer.md"
  transfer_lib.write_markdown([record, {**record, "family": "txl", "steps_within_5pct_of_go_one": None},
                               {"family": "bert", "pending": True}],
                              str(path), "python -m experiments.transfer_results ...", costs=(8, 25))
  text = path.read_text()
  # zero-shot 0.4 s / GO-one 0.25 s = 1.6; fine-tuning needed 20 iterations of 8 evaluations, GO-one 180 of 25:
  # 4500 / 160 = 28.1x.
  assert ("| rnnlm | rnnlm_2 (913) | 400 | 300 | 200 | 250 | 1.600 | single 100 | 20 / 160 | 180 / 4500 | 28.1x |"
          in text)
  assert "| txl |" in text and "| not reached | 180 / 4500 | - |" in text
  assert "a fine-tuning iteration costs 8 evaluations, a GO-one iteration 25" in text
  assert "| bert | not run | not run |" in text
  assert (tmp_path / "transfer_curves.png").stat().st_size > 1000 and "transfer_curves.png" in text


def test_speedup_below_one_says_fine_tuning_was_slower():
  record = {"steps_within_5pct_of_go_one": 576, "go_one_steps_within_5pct": 1}
  # 25 / (576 * 8) = 0.0054: GO-one got there 184x sooner.
  assert transfer_lib._speedup(record, (8, 25)) == "0.0054x (fine-tuning 184x slower)"  # pylint: disable=protected-access
  assert transfer_lib._speedup({**record, "steps_within_5pct_of_go_one": 1, "go_one_steps_within_5pct": 8},
                               (8, 25)) == "25x"  # pylint: disable=protected-access


def test_records_are_stored_and_reused(tmp_path, monkeypatch):
  """A family runs once; a second run with the same settings reuses its record, another setting reruns it."""
  calls = []

  def fake_run_family(family, config, workdir, cluster_spec, steps, names, phases):
    del config, workdir, cluster_spec, names, phases
    calls.append(family)
    return {"family": family, "steps": list(steps)}

  monkeypatch.setattr(transfer_lib, "run_family", fake_run_family)
  config = pretrain_config.get_config()
  store = rows.RowStore(str(tmp_path / "rows"))
  first = transfer_lib.run(["rnnlm"], config, str(tmp_path / "w"), "v100x4", [50, 200], None, None, [], store)
  again = transfer_lib.run(["rnnlm", "txl"], config, str(tmp_path / "w"), "v100x4", [50, 200], None, None, [],
                           rows.RowStore(str(tmp_path / "rows")), stored_only=True)
  assert calls == ["rnnlm"] and again == [first[0], {"family": "txl", "pending": True}]
  transfer_lib.run(["rnnlm"], config, str(tmp_path / "w"), "v100x4", [50, 1000], None, None, [], store)
  assert calls == ["rnnlm", "rnnlm"]  # other fine-tuning steps: not the stored record


def test_phases_split_a_family_between_processes(tmp_path, monkeypatch):
  """Each phase is computed once, kept in <workdir>/<family>/<phase>.json, and assembled when all are there."""
  calls = []

  def fake(name, result):
    def phase(*args):
      del args
      calls.append(name)
      return result
    return phase

  monkeypatch.setattr(transfer_lib, "_pretrain_phase", fake("pretrain", {"pretrain_iterations": 7}))
  monkeypatch.setattr(transfer_lib, "_finetune_phase", fake("finetune", {"finetune_curve": [30.0, 20.0, 10.0]}))
  monkeypatch.setattr(transfer_lib, "_go_one_phase", fake("go_one", {"go_one_step_time": 10.0,
                                                                      "go_one_curve": [40.0, 12.0, 10.4, 10.0]}))
  monkeypatch.setattr(transfer_lib, "_baselines_phase", fake("baselines", {"best_baseline": "single"}))
  config, workdir = pretrain_config.get_config(), str(tmp_path / "w")
  args = ("rnnlm", config, workdir, "v100x4", [2, 3], ["single"])
  assert transfer_lib.run_family(*args, progress=lambda _: None, phases=["go_one", "baselines"]) is None
  assert calls == ["go_one", "baselines"] and (tmp_path / "w" / "rnnlm" / "go_one.json").exists()
  lines = []
  record = transfer_lib.run_family(*args, progress=lines.append, phases=["finetune"])
  assert calls == ["go_one", "baselines", "pretrain", "finetune"]  # fine-tuning needs the pretrained policy
  assert any(line.startswith("rnnlm: go_one reused from ") for line in lines)
  assert record["finetune_step_time"] == {"2": 20.0, "3": 10.0} and record["best_baseline"] == "single"
  assert record["pretrain_iterations"] == 7
  assert record["steps_within_5pct_of_go_one"] == 3 and record["go_one_steps_within_5pct"] == 3  # 10.4 <= 10.5
  again = transfer_lib.run_family(*args, progress=lambda _: None)  # everything reused
  assert again == record and len(calls) == 4
  transfer_lib.run_family(*args[:4], [2, 3, 4], ["single"], progress=lambda _: None, phases=["baselines"])
  assert calls[4:] == ["baselines"]  # other settings: the kept phases do not count
  with pytest.raises(errors.InputError, match="--phases: unknown pretraining"):
    transfer_lib.run_family(*args, phases=["pretraining"])


def test_stored_only_needs_rows_dir(tmp_path):
  proc = cli_run.run_module("experiments.transfer_results", f"--workdir={tmp_path}", "--stored_only")
  cli_run.check_input_error(proc, "--stored_only needs --rows_dir")


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
  assert "finetune_curve" not in record  # stdout stays short; the curves are in transfer.json
  [stored] = json.loads((tmp_path / "runs" / "transfer.json").read_text())
  assert len(stored["finetune_curve"]) == 3 and len(stored["go_one_curve"]) == stored["go_one_iterations"]


def test_progress_every_period_with_eta():
  lines = []
  report = transfer_lib.every(2, "txl: fine-tuning", total=4, progress=lines.append)
  for step in (1, 2, 3, 4):
    report(step, {"best_step_time": 0.0125})
  assert len(lines) == 2 and lines[0].startswith("txl: fine-tuning: iteration 2/4, best 12.5 ms, ")
  assert "ETA" in lines[0]
