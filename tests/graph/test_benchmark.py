"""Tests of the graph import benchmark (go_jax.graph.benchmark, experiments/bench_import.py) on tiny sizes.

Sizes, costs and formats only: speed is recorded in BENCHMARKS.md, never asserted here.
"""

from __future__ import annotations

import datetime
import os

import pytest

from go_jax import workloads
from go_jax.graph import benchmark
from go_jax.graph import hlo_import
from go_jax.graph import jax_import
from go_jax.models import benchmark as model_benchmark
from tests import cli_run


# A tiny Transformer-XL that traces in about a second (tests/workloads/conftest.py's knobs).
_TINY_TXL = dict(num_segments=2, segment_len=4, mem_len=4, batch=2, d_model=16, num_heads=2, d_inner=32, vocab=50)


@pytest.mark.parametrize("layers", [1, 3])
def test_synthetic_hlo_module_has_5_nodes_per_layer_and_known_flops(layers):
  graph = hlo_import.from_hlo_text(benchmark.synthetic_hlo_module(layers))
  assert graph.num_nodes == 5 * layers + 1 and graph.num_edges == 5 * layers
  assert graph.meta["hlo_instructions"] == 5 * layers + 1
  assert graph.flops.sum() == benchmark.synthetic_hlo_flops(layers) == layers * (2 * 64 * 256 * 256 + 64 * 256)
  assert graph.op_histogram() == {"parameter": layers + 1, "dot": layers, "constant": layers, "broadcast": layers,
                                  "elementwise": layers}


@pytest.mark.parametrize("equations", [1, 4, 7])
def test_synthetic_jaxpr_has_exactly_the_requested_equations(equations):
  closed = benchmark.synthetic_jaxpr(equations)
  assert len(closed.jaxpr.eqns) == equations
  assert jax_import.from_jaxpr(closed).num_nodes == equations + 2  # one per equation and per input


def test_generators_reject_empty_sizes():
  with pytest.raises(ValueError, match="num_layers"):
    benchmark.synthetic_hlo_module(0)
  with pytest.raises(ValueError, match="num_equations"):
    benchmark.synthetic_jaxpr(0)
  with pytest.raises(ValueError, match="repeats"):
    benchmark.measure_hlo_parse(1, repeats=0)


def test_measure_hlo_parse_and_jaxpr_import_rows():
  hlo = benchmark.measure_hlo_parse(3, repeats=2)
  assert (hlo.kind, hlo.source, hlo.input_size, hlo.input_unit) == (
      benchmark.HLO_PARSE, "synthetic_hlo_module(3)", 16, "instructions")
  assert (hlo.num_nodes, hlo.num_edges, hlo.repeats) == (16, 15, 2) and hlo.seconds > 0
  jaxpr = benchmark.measure_jaxpr_import(9, repeats=1)
  assert (jaxpr.kind, jaxpr.input_size, jaxpr.input_unit, jaxpr.num_nodes, jaxpr.repeats) == (
      benchmark.JAXPR_IMPORT, 9, "equations", 11, 1)


def test_measure_trace_bypasses_the_cache_and_gograph_load_round_trips(tmp_path, monkeypatch):
  monkeypatch.setenv("GO_JAX_CACHE", str(tmp_path / "cache"))  # would be written if the cache were used
  row, graph = benchmark.measure_trace("txl_2", _TINY_TXL, repeats=1)
  assert not (tmp_path / "cache").exists()
  assert row.kind == benchmark.TRACE and row.source.startswith("txl_2:batch=2,d_inner=32,")
  assert (row.num_nodes, row.num_edges, row.input_unit) == (graph.num_nodes, graph.num_edges, "")
  assert graph.meta["workload"] == "txl_2" and graph.num_nodes > 1000
  load = benchmark.measure_gograph_load(graph, repeats=2, directory=tmp_path)
  assert (load.kind, load.source, load.input_unit, load.repeats) == (benchmark.GOGRAPH_LOAD, "txl_2", "bytes", 2)
  assert (load.num_nodes, load.num_edges) == (graph.num_nodes, graph.num_edges) and load.input_size > 0
  assert os.listdir(tmp_path) == []  # the temporary file is gone


def test_measure_trace_unknown_workload_is_an_input_error():
  with pytest.raises(workloads.UnknownWorkloadError, match="valid workloads"):
    benchmark.measure_trace("no_such_net", repeats=1)
  with pytest.raises(workloads.UnknownWorkloadError, match="no knob colour"):
    benchmark.measure_trace("txl_2", {"colour": 1}, repeats=1)


def _row(kind, **kwargs):
  fields = dict(kind=kind, source="x", input_size=50_001, input_unit="instructions", num_nodes=50_001,
                num_edges=50_000, seconds=2.0, repeats=3)
  return benchmark.ImportMeasurement(**{**fields, **kwargs})


def test_format_table_columns_and_cells():
  rows = [_row(benchmark.HLO_PARSE, source="synthetic_hlo_module(10000)"),
          _row(benchmark.TRACE, source="wavenet_2x18", input_size=0, input_unit="", num_nodes=3_079,
               num_edges=3_890, seconds=8.0, repeats=1),
          _row(benchmark.GOGRAPH_LOAD, source="wavenet_2x18", input_size=3 * 2**20, input_unit="bytes",
               num_nodes=3_079, num_edges=3_890, seconds=0.5)]
  lines = benchmark.format_table(rows).splitlines()
  assert len(lines) == 2 + len(rows)
  assert [c.strip() for c in lines[0].strip("|").split("|")] == list(benchmark.TABLE_COLUMNS) == [
      "what", "input", "input size", "nodes N", "edges E", "median (s)", "nodes/s", "runs"]
  cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
  assert all(len(row) == len(benchmark.TABLE_COLUMNS) for row in cells)
  assert cells[0] == [benchmark.KIND_LABELS[benchmark.HLO_PARSE], "`synthetic_hlo_module(10000)`",
                      "50,001 instructions", "50,001", "50,000", "2", "25,000", "3"]
  assert cells[1][2:] == ["-", "3,079", "3,890", "8", "385", "1"]
  assert cells[2][2] == "3.00 MiB"
  assert rows[0].nodes_per_second == 25_000.5


def test_benchmark_section_heading_command_table_and_append(tmp_path):
  rows = [_row(benchmark.JAXPR_IMPORT, input_size=8, input_unit="equations", num_nodes=10)]
  now = datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
  section = benchmark.benchmark_section(rows, "python -m experiments.bench_import --quick", "Test CPU, 2 CPU cores",
                                        repeats=3, mode="quick", load_average="; load average 2.0 at the end",
                                        now=now)
  lines = section.splitlines()
  assert lines[0].startswith("### Graph import and tracing (quick), 2026-01-02 03:04 UTC, Test CPU, 2 CPU cores, jax ")
  assert lines[0].endswith(", median of 3")
  assert "Command: `python -m experiments.bench_import --quick`" in lines
  assert benchmark.format_table(rows) in section and "load average 2.0 at the end." in section
  path = tmp_path / "BENCHMARKS.md"
  path.write_text("# Benchmarks\n\nkept\n")
  model_benchmark.append_section(str(path), section)
  assert path.read_text() == "# Benchmarks\n\nkept\n\n" + section


def _run_cli(*args):
  return cli_run.run_module("experiments.bench_import", *args, timeout=300)


@pytest.mark.parametrize("flag,fragment", [
    ("--repeats=0", "--repeats must be >= 1"),
    ("--hlo_layers=-1", "--hlo_layers must be >= 0"),
    ("--workloads=no_such_net", "unknown workload 'no_such_net'"),
    ("--workloads=txl_2:colour=1", "no knob colour"),
])
def test_cli_bad_flag_is_one_line_and_exit_2(flag, fragment):
  out = _run_cli(flag)
  assert out.stdout == ""
  cli_run.check_input_error(out, fragment, only_line=True)


def test_cli_tiny_run_prints_and_appends_the_section(tmp_path):
  path = tmp_path / "BENCHMARKS.md"
  variant = "txl_2:" + ",".join(f"{k}={v}" for k, v in _TINY_TXL.items())  # commas inside a list flag
  out = _run_cli("--hlo_layers=2", "--jaxpr_equations=5", f"--workloads={variant}", "--repeats=1", f"--append={path}")
  assert out.returncode == 0, out.stderr
  text = path.read_text()
  assert text.startswith("# Benchmarks\n\n### Graph import and tracing (full), ") and text.endswith(out.stdout[:-1])
  table = [line for line in text.splitlines() if line.startswith("| ")][1:]
  assert [line.split("|")[1].strip() for line in table] == [benchmark.KIND_LABELS[kind] for kind in (
      benchmark.HLO_PARSE, benchmark.JAXPR_IMPORT, benchmark.TRACE, benchmark.GOGRAPH_LOAD)]
  assert "| 11 instructions | 11 | 10 |" in table[0] and "| 5 equations | 7 |" in table[1]
  assert f"--workloads={variant}" in text
