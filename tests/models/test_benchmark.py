"""End-to-end check of the policy benchmark library on a tiny config (slow: compiles a gradient)."""

from __future__ import annotations

import pytest

from go_jax.models import benchmark
from go_jax.models import config as config_lib


@pytest.mark.slow
def test_measure_step_and_append_section(tmp_path):
  config = config_lib.get_test_config()
  row = benchmark.measure_step(config, num_nodes=100, repeats=0)
  assert (row.num_nodes, row.padded_nodes) == (100, 128)
  assert row.step_seconds > 0 and row.xla_temp_bytes > 0 and row.peak_rss_bytes > 0
  path = tmp_path / "BENCHMARKS.md"
  path.write_text("# Benchmarks\n\n## Simulator\n\nkept\n")
  section = benchmark.benchmark_section([row], config, "python -m experiments.bench_policy --sizes=100")
  benchmark.append_section(str(path), section)
  text = path.read_text()
  assert text.startswith("# Benchmarks\n\n## Simulator\n\nkept\n")  # appended, not overwritten
  assert "## Policy forward+backward" in text and "| 100 | " in text
