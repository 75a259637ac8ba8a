"""experiments.priority_levels: heuristics quantised to priority levels, its page and its CLI errors."""


import numpy as np

from experiments import priority_levels_lib
from experiments import results_lib
import simulator
from tests import cli_run


def test_one_device_makes_every_order_equally_fast_and_one_level_is_level_order():
  # toy_chains_2x4 has no expert placement, so the default is one device: no copies, and any
  # topological order runs the same total work back to back.
  problem = results_lib.load_problem("toy_chains_2x4", 2, budget=0, seed=0)
  times = priority_levels_lib.measure(problem, levels=(1, 2, 8))
  assert set(times) == {"level_order", "critical_path", "critical_path@1", "critical_path@2", "critical_path@8",
                        "fifo", "fifo@1", "fifo@2", "fifo@8"}
  _, trace = simulator.simulate_reference(problem.graph, problem.cluster, problem.default_decisions())
  total_work = float(np.sum(trace.finish - trace.start))
  np.testing.assert_allclose(list(times.values()), total_work, rtol=1e-9)


def test_page_has_one_table_per_heuristic():
  rows = [{"graph": "g", "devices": 4, "nodes": 1234,
           "times": {"level_order": 0.002, "critical_path": 0.001, "critical_path@8": 0.0015,
                     "fifo": 0.003, "fifo@8": 0.0025}}]
  page = priority_levels_lib.markdown(rows, [8], ["critical_path", "fifo"], "python -m experiments.priority_levels")
  assert "## critical_path" in page and "## fifo" in page
  assert "| g | 1,234 | 4 | 2 | 1.5 | 1 |" in page
  assert "| g | 1,234 | 4 | 2 | 2.5 | 3 |" in page


def test_bad_levels_exit_2_with_one_line():
  for flag, message in [("--levels=8,x", "not a list of integers"), ("--levels=0", "must be >= 1")]:
    cli_run.check_input_error(cli_run.run_module("experiments.priority_levels", flag), message, only_line=True)
