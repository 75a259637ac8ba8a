r"""Measure how fast graphs are obtained: HLO text parse, jaxpr import, workload tracing, cached load.

Usage:
  python -m experiments.bench_import [--repeats=3] [--append=BENCHMARKS.md]
  python -m experiments.bench_import --quick                       # small sizes, about a minute on 2 cores
  python -m experiments.bench_import --workloads=rnnlm_2:unroll=8,txl_2 --hlo_layers=0 --jaxpr_equations=0

Default sizes: a 50,001-instruction synthetic HLO module (10,000 layers), an 80,000-equation jaxpr,
and the workloads wavenet_2x18 and txl_2 traced without the cache, then each saved as
``.gograph.npz`` and loaded back. ``--quick``: 5,001 instructions, 8,000 equations, txl_2.
Prints a markdown table (one row per measurement, median of ``--repeats`` runs); with
``--append`` also appends it, under a heading "### Graph import and tracing (...)" naming the
date and machine, to that file (never overwriting it). Library: :mod:`go_jax.graph.benchmark`.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from experiments import cli
from go_jax import workloads
from go_jax.graph import benchmark
from go_jax.models import benchmark as model_benchmark
from go_jax.workloads import registry

_QUICK = flags.DEFINE_bool("quick", False, "Small sizes: 5k HLO instructions, 8k jaxpr equations, txl_2.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed runs per row; the table shows their median.")
_APPEND = flags.DEFINE_string("append", None, "Markdown file to append the results section to.")
_WORKLOADS = flags.DEFINE_list(
    "workloads", None, "Workloads (or variants, rnnlm_2:unroll=8,batch=4) to trace without the cache and then "
    "load from .gograph.npz; default wavenet_2x18,txl_2 (--quick: txl_2); empty for none.")
_HLO_LAYERS = flags.DEFINE_integer("hlo_layers", None, "Layers of the synthetic HLO module (5 instructions each); "
                                   "default 10000 (--quick: 1000); 0 skips the row.")
_JAXPR_EQUATIONS = flags.DEFINE_integer("jaxpr_equations", None, "Equations of the synthetic jaxpr; default 80000 "
                                        "(--quick: 8000); 0 skips the row.")

# (HLO layers, jaxpr equations, workloads) of each preset.
_FULL = (10_000, 80_000, ["wavenet_2x18", "txl_2"])
_QUICK_SIZES = (1_000, 8_000, ["txl_2"])


def _variants(items: list[str]) -> list[str]:
  """Rejoins variants that the comma-separated flag split: ``["a:x=1", "y=2"]`` -> ``["a:x=1,y=2"]``."""
  out: list[str] = []
  for item in (item.strip() for item in items):
    if not item:
      continue
    if out and "=" in item and ":" not in item:
      out[-1] += "," + item
    else:
      out.append(item)
  return out


def main(argv):
  del argv
  if _REPEATS.value < 1:
    cli.fail(f"--repeats must be >= 1, got {_REPEATS.value}")
  hlo_layers, jaxpr_equations, names = _QUICK_SIZES if _QUICK.value else _FULL
  hlo_layers = hlo_layers if _HLO_LAYERS.value is None else _HLO_LAYERS.value
  jaxpr_equations = jaxpr_equations if _JAXPR_EQUATIONS.value is None else _JAXPR_EQUATIONS.value
  if hlo_layers < 0:
    cli.fail(f"--hlo_layers must be >= 0, got {hlo_layers}")
  if jaxpr_equations < 0:
    cli.fail(f"--jaxpr_equations must be >= 0, got {jaxpr_equations}")
  variants = [workloads.parse_variant(spec) for spec in _variants(names if _WORKLOADS.value is None
                                                                   else _WORKLOADS.value)]
  for name, knobs in variants:  # an unknown name or knob is one line and exit 2 (cli.run), before any timing
    registry.resolve_knobs(name, **knobs)

  rows = []

  def add(row: benchmark.ImportMeasurement) -> None:
    rows.append(row)
    print(benchmark.format_table([row]).splitlines()[-1], file=sys.stderr, flush=True)

  repeats = _REPEATS.value
  if hlo_layers:
    add(benchmark.measure_hlo_parse(hlo_layers, repeats=repeats))
  if jaxpr_equations:
    add(benchmark.measure_jaxpr_import(jaxpr_equations, repeats=repeats))
  for name, knobs in variants:
    row, graph = benchmark.measure_trace(name, knobs, repeats=repeats)
    add(row)
    add(benchmark.measure_gograph_load(graph, repeats=repeats, source=row.source))
  load = f"; load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
  machine = f"{model_benchmark.cpu_name()}, {os.cpu_count()} CPU cores (shared)"
  command = " ".join(["python -m experiments.bench_import", *sys.argv[1:]])
  section = benchmark.benchmark_section(rows, command, machine, repeats, mode="quick" if _QUICK.value else "full",
                                        load_average=load)
  print(section)
  if _APPEND.value:
    model_benchmark.append_section(_APPEND.value, section)


if __name__ == "__main__":
  cli.run(main)
