"""experiments.results on a toy graph with tiny budgets: the page has every section, numbers are real."""

import json
import re

import pytest

from experiments import results_lib
from experiments import rows as rows_lib
from go_jax.models import config as model_config
from go_jax.rl import config as rl_config


def tiny_config():
  config = rl_config.get_default_config()
  config.model = model_config.get_test_config()
  config.model.remat = False
  config.ppo.num_samples = 4
  config.ppo.num_epochs = 1
  config.ppo.num_minibatches = 1
  config.imitation.steps = 20
  config.pathwise.steps = 2
  return config


def test_parse_graphs():
  assert results_lib.parse_graphs("txl_2:4, wavenet_2x18", "placement") == [("txl_2", 4), ("wavenet_2x18", 4)]
  assert results_lib.parse_graphs("", "joint") == list(results_lib.JOINT_SUITE)
  assert results_lib.parse_graphs(["gnmt_8"], "placement") == [("gnmt_8", 8)]
  with pytest.raises(Exception, match="NAME or NAME:DEVICES"):
    results_lib.parse_graphs("txl_2:x", "placement")


def test_first_reaching():
  curve = [(4, 1.0, 0.5), (8, 2.0, 0.3), (12, 3.0, 0.2)]
  assert results_lib.first_reaching(curve, 0.3) == (8, 2.0)
  assert results_lib.first_reaching(curve, 0.1) is None


def test_throttled_progress_first_last_and_one_per_period():
  now = [0.0]
  seen = []
  on_step = results_lib.throttled(lambda step, metrics: seen.append(step), planned=10, period_s=60.0,
                                  clock=lambda: now[0])
  for step, at in zip(range(1, 11), [0, 20, 59, 61, 100, 121, 130, 190, 200, 205]):
    now[0] = at
    on_step(step, {})
  # 1 at t=0; 4 at t=61 (>= 60 after 0); 6 at t=121; 8 at t=190; 10, the last, whatever the time.
  assert seen == [1, 4, 6, 8, 10]


@pytest.mark.slow  # baselines + HDP + two GO compiles: ~4 min on an idle 2-core CPU, more under load
def test_placement_suite_on_a_toy_graph(tmp_path):
  store = rows_lib.RowStore(str(tmp_path / "rows"))
  rows, seconds = results_lib.run("placement", "toy_chains_2x4:2", budget=17, with_hdp=True,
                                  overrides=tiny_config(), store=store)
  assert seconds > 0 and len(rows) == 1
  row = rows[0]
  # The warm start scores its 5 usable teachers (no expert for a toy graph) and the clone's
  # argmax; the relaxed objective's calibration; one iteration (2 relaxed steps, the argmax,
  # 4 vectors) fits in the remaining 9 of 16; + the greedy score.
  assert row["go"]["evaluations"] == 6 + 1 + 7 + 1
  assert len(row["go"]["curve"]) == 1
  assert {"single", "heft", "metis", "brkga", "gradient"} <= set(row["baselines"])
  # Two chains on two devices: any sensible method beats one device; GO-one's exact time is real.
  assert 0 < row["go"]["step_time"] <= 1.5 * row["baselines"]["single"]
  page = results_lib.render("placement", rows, 17, "python -m experiments.results --suite=placement", seconds)
  for text in ("# GO-one results (generated)", "## Placement", "### Convergence vs HDP",
               "GO-one beats the best baseline on", "GO-one loses on", "toy_chains_2x4"):
    assert text in page, text
  table_row = next(line for line in page.splitlines() if line.startswith("| toy_chains_2x4 |"))
  go_ms = float(table_row.split("|")[-4])
  assert abs(go_ms - 1e3 * row["go"]["step_time"]) < 1e-3 * go_ms + 0.05
  # Another GO config reuses the stored baselines and reruns GO-one only.
  other = tiny_config()
  other.imitation.steps = 0
  again = rows_lib.RowStore(str(tmp_path / "rows"))
  rows_again, _ = results_lib.run("placement", "toy_chains_2x4:2", budget=17, with_hdp=True, overrides=other,
                                  store=again)
  assert again.reused == 2 and rows_again[0]["baselines"] == json.loads(json.dumps(row["baselines"]))
  assert rows_again[0]["go"]["evaluations"] == 1 + 2 * 7 + 1


def test_row_store_reuses_only_rows_of_the_same_settings(tmp_path):
  store = rows_lib.RowStore(str(tmp_path / "rows"))
  key = {"suite": "joint", "graph": "g", "devices": 2, "variant": "all three", "budget": 9, "seed": 0}
  assert store.get(key) is None
  store.put(key, {"graph": "g", "go": {"step_time": 0.5}})
  assert store.get(dict(key)) == {"graph": "g", "go": {"step_time": 0.5}} and store.reused == 1
  assert store.get({**key, "budget": 10}) is None  # same file, other settings: recomputed
  assert rows_lib.RowStore(None).get(key) is None
  path = tmp_path / "rows" / "joint-g-2-all_three.json"
  path.write_text("{not json")
  with pytest.raises(Exception, match="joint-g-2-all_three.json: not a stored results row"):
    store.get(key)


def test_joint_suite_one_variant(tmp_path):
  store = rows_lib.RowStore(str(tmp_path / "rows"))
  rows, seconds = results_lib.run("joint", "toy_chains_2x4:2", budget=9, overrides=tiny_config(),
                                  variants=("fusion",), store=store)
  # A second run over the same rows folder reuses the row instead of training again.
  again = rows_lib.RowStore(str(tmp_path / "rows"))
  rows_again, _ = results_lib.run("joint", "toy_chains_2x4:2", budget=9, overrides=tiny_config(),
                                  variants=("fusion",), store=again)
  assert again.reused == 1 and rows_again == json.loads(json.dumps(rows)) and rows[0]["seconds"] > 0
  assert "1 stored parts of these 1 rows" in results_lib.render("joint", rows_again, 9, "cmd", 0.1, 1)
  assert [r["variant"] for r in rows] == ["fusion"]
  assert set(rows[0]["baselines"]) == {"xla_fusion", "fuse_all"}
  page = results_lib.render("joint", rows, 9, "cmd", seconds)
  assert "## Joint placement, scheduling and fusion" in page
  assert re.search(r"\| toy_chains_2x4 \| fusion \| [0-9.]+ \|", page), page


def test_placement_page_marks_search_baselines_not_run():
  go = {"step_time": 0.09, "oom": False, "evaluations": 17, "seconds": 1.0, "curve": [(17, 1.0, 0.09)]}
  rows = [{"graph": "a", "nodes": 10, "devices": 2, "baselines": {"expert": 0.1, "brkga": 0.08, "gradient": 0.2},
           "go": go, "not_run": []},
          {"graph": "b", "nodes": 10, "devices": 2, "baselines": {"expert": 0.1}, "go": go,
           "not_run": ["brkga", "gradient"]}]
  page = "\n".join(results_lib.render_placement(rows, 17))
  assert "| a | 10 | 2 | 100 | 80 | 200 | 90 | 1.125 | 0.900 |" in page, page
  assert "| b | 10 | 2 | 100 | not run | not run | 90 | 0.900 | 0.900 |" in page, page
  assert "search baselines of b/2 are not computed yet" in page
  assert "GO-one beats the best baseline on 1 of 2: b/2 (best baseline expert)" in page


def test_stored_only_never_computes_anything(tmp_path, monkeypatch):
  store = rows_lib.RowStore(str(tmp_path / "rows"))
  computed = []
  real = results_lib.evaluation.evaluate
  monkeypatch.setattr(results_lib.evaluation, "evaluate",
                      lambda problem, methods, names, progress=None: computed.extend(names) or real(
                          problem, methods, names, progress))
  monkeypatch.setattr(results_lib, "run_go", lambda problem, config, progress=None: results_lib.GoRun(
      step_time=1.0, oom=False, evaluations=1, seconds=0.0, curve=[]))
  rows, _ = results_lib.run("placement", "toy_chains_2x4:2", budget=9, with_hdp=False, store=store,
                            stored_only=True)
  assert rows == [{"graph": "toy_chains_2x4", "devices": 2, "pending": True}] and not computed
  assert "Not computed yet, so not in the table (`--stored_only`): toy_chains_2x4/2." in "\n".join(
      results_lib.render_placement(rows, 9))
  # Once the baselines and GO-one are stored, only the search part is missing: marked, not run.
  results_lib.run("placement", "toy_chains_2x4:2", budget=9, with_hdp=False, store=store, with_search=False)
  computed.clear()
  rows, _ = results_lib.run("placement", "toy_chains_2x4:2", budget=9, with_hdp=False, store=store,
                            stored_only=True)
  assert not computed and rows[0]["not_run"] == list(results_lib.PLACEMENT_SEARCH)
  joint, _ = results_lib.run("joint", "toy_chains_2x4:2", budget=9, store=store, stored_only=True,
                             variants=("fusion",))
  assert joint == [{"graph": "toy_chains_2x4", "devices": 2, "variant": "fusion", "pending": True}]
  page = "\n".join(results_lib.render_joint(joint, 9))
  assert "| toy_chains_2x4 | fusion | not run |" in page and "beats the task's best heuristic on 0 of 0" in page


def test_float_noise_is_a_tie_not_a_win():
  # inception_v3 'all three': GO-one's clone of single + critical_path + fuse_all scored
  # 0.07253260316423936 s, fuse_all 0.0725326031642394 s: the same decisions, summed in another order.
  assert results_lib._outcome(0.07253260316423936, 0.0725326031642394) == "ties"
  assert results_lib._outcome(0.0848, 0.08498) == "wins"
  assert results_lib._outcome(0.0851, 0.08498) == "losses"
  assert results_lib._outcome(None, 0.08498) == "losses"
  lines = results_lib._outcome_lines({"wins": ["a"], "ties": ["b"], "losses": []}, 2, "the best baseline")
  assert lines == ["GO-one beats the best baseline on 1 of 2: a.", "GO-one ties (within 1e-06 relative) on 1: b.",
                   "GO-one loses on 0: none."]
