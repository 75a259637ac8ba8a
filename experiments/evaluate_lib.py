"""Library behind ``python -m experiments.evaluate`` (and the main job)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from typing import Any, Callable, Sequence

import jax

from experiments import cli
from experiments import rows as rows_lib
from experiments import simulate_lib
from go_jax import baselines
from go_jax import errors
from go_jax import evaluation
from go_jax.graph import loading
from go_jax.rl import config as rl_config
from go_jax.rl import method as go_method
from go_jax.rl import pretrained

TABLE_COLUMNS = ("method", "step_ms", "vs_single", "vs_expert", "peak_gib", "oom", "step/LB",
                 "evals", "search_s")


def log(message: str) -> None:
  """Progress on stderr (stdout carries the table)."""
  print(f"[evaluate] {message}", file=sys.stderr, flush=True)


def resolve_methods(names: Sequence[str]) -> list[str]:
  """``all``: every method; ``heuristics``: those that spend no simulator evaluations."""
  if list(names) == ["all"]:
    return list(baselines.METHODS)
  if list(names) == ["heuristics"]:
    return list(baselines.HEURISTICS)
  unknown = [n for n in names if n not in baselines.METHODS]
  if unknown:
    raise errors.InputError(f"unknown method(s) {', '.join(unknown)} (known: {', '.join(baselines.METHODS)})")
  return list(names)


def run(graphs: Sequence[str], cluster_spec: str | None, methods: Sequence[str], devices: int | None = None,
        budget: int = 1000, seed: int = 0, progress: Callable[[str], None] | None = None,
        checkpoint: str | None = None, store: rows_lib.RowStore | None = None) -> list[dict[str, Any]]:
  """Evaluates ``methods`` on every graph; returns all records.

  ``cluster_spec`` None means each dnn-partitioning graph's own cluster (its
  accelerators plus the CPU, from the file) and ``v100x4`` for other graphs.
  ``checkpoint`` (a trained GO policy's directory) is passed to every
  :class:`go_jax.evaluation.Problem`; None means the policy shipped in the repo.
  ``store`` keeps each finished (graph, cluster, method) record and reuses it
  when a later run asks for the same settings (budget, seed, checkpoint, and for
  ``go_one`` its default config), so a
  long ``--methods=all`` run can be stopped and resumed.
  """
  store = store or rows_lib.RowStore(None)
  names = resolve_methods(methods)
  if budget < 1:
    raise errors.InputError(f"--budget must be >= 1, got {budget}")
  records = []
  for spec in graphs:
    if progress:
      progress(f"loading {spec}")
    graph = loading.load_graph(spec)
    cluster = simulate_lib.load_cluster(cluster_spec, graph, devices)
    expert = evaluation.expert_for(spec, graph, cluster.num_devices)
    problem = evaluation.Problem(graph, cluster, budget=budget, seed=seed, expert=expert,
                                 checkpoint=checkpoint)
    graph_records = []
    for name in names:
      key = {"suite": "evaluate", "graph": spec, "devices": f"{cluster.name}-{cluster.num_devices}",
             "variant": name, "budget": budget, "seed": seed, "checkpoint": checkpoint}
      if name == "go_one":  # its record also depends on GO-one's default config, which evolves
        key["config"] = rl_config.effective(go_method.default_config())
      if name == "go":  # and the policy's on the checkpoint's contents (the shipped one is replaced now and then)
        key["policy"] = pretrained.fingerprint(checkpoint)
      record = store.get(key)
      if record is None:
        [record] = evaluation.evaluate(problem, baselines.METHODS, [name], progress)
        record["cluster"] = cluster.name
        store.put(key, record)
      graph_records.append(record)
    evaluation.add_speedups(graph_records)
    records.extend(graph_records)
    jax.clear_caches()  # the next graph has other shapes; free this one's compiled programs
  return records


def _row(record: dict[str, Any]) -> dict[str, Any]:
  def num(value, scale=1.0):
    return "-" if value is None else float(value) * scale
  peak = record.get("peak_memory")
  return {
      "method": record["method"],
      "step_ms": num(record["step_time"], 1e3),
      "vs_single": num(record.get("speedup_vs_single")),
      "vs_expert": num(record.get("speedup_vs_expert")),
      "peak_gib": "-" if not peak else max(peak) / 2**30,
      "oom": "-" if record["oom"] is None else ("OOM" if record["oom"] else "ok"),
      "step/LB": num(record.get("step_over_lb")),
      "evals": record["evaluations"],
      "search_s": record["search_seconds"],
  }


def format_records(records: list[dict[str, Any]]) -> str:
  """One table per graph; unavailable methods are listed under the table with the reason."""
  out = []
  graphs = list(dict.fromkeys(r["graph"] for r in records))
  for name in graphs:
    rows = [r for r in records if r["graph"] == name]
    first = rows[0]
    out.append(f"{name} on {first['cluster']}  (lower bound {first['lower_bound'] * 1e3:.4g} ms)")
    out.append(cli.format_table([_row(r) for r in rows], TABLE_COLUMNS))
    for r in rows:
      if r.get("notes"):
        out.append(f"  note ({r['method']}): {r['notes']}")
    out.append("")
  return "\n".join(out)


def _markdown_cell(value: Any) -> str:
  if isinstance(value, float):
    return f"{value:.4g}"
  return str(value).replace("|", "\\|")


def format_markdown_tables(records: list[dict[str, Any]]) -> str:
  """The tables of :func:`format_records` as markdown: one per graph, notes listed under it."""
  numeric = {"step_ms", "vs_single", "vs_expert", "peak_gib", "step/LB", "evals", "search_s"}
  out = []
  for name in dict.fromkeys(r["graph"] for r in records):
    rows = [r for r in records if r["graph"] == name]
    first = rows[0]
    out.append(f"## `{name}` on `{first['cluster']}`\n")
    out.append(f"Lower bound {first['lower_bound'] * 1e3:.4g} ms.\n")
    out.append("| " + " | ".join(TABLE_COLUMNS) + " |")
    out.append("|" + "|".join("---:" if c in numeric else "---" for c in TABLE_COLUMNS) + "|")
    for r in rows:
      row = _row(r)
      out.append("| " + " | ".join(_markdown_cell(row[c]) for c in TABLE_COLUMNS) + " |")
    notes = [r for r in rows if r.get("notes")]
    if notes:
      out.append("")
      out.extend(f"* `{r['method']}`: {' '.join(str(r['notes']).split())}" for r in notes)
    out.append("")
  return "\n".join(out)


def markdown_report(records: list[dict[str, Any]], argv: Sequence[str], reused: int = 0) -> str:
  """The markdown page of ``docs/baselines.md``: provenance, then :func:`format_markdown_tables`.

  Args:
    records: the records of :func:`run`.
    argv: the command line that produced them (``sys.argv``), written verbatim
      so that the page can be regenerated.
    reused: how many records came from ``--rows_dir`` (computed by earlier runs).
  """
  argv = list(argv)
  if argv and argv[0].endswith(os.path.join("experiments", "evaluate.py")):
    argv = ["python", "-m", "experiments.evaluate"] + argv[1:]
  command = " ".join(shlex.quote(a) for a in argv)
  now = datetime.datetime.now(datetime.timezone.utc)
  header = [
      "# Baselines side by side",
      "",
      "Generated by `experiments.evaluate --markdown_out`; do not edit by hand. Regenerate with:",
      "",
      "```sh",
      command,
      "```",
      "",
      f"Machine: {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, "
      f"CPython {platform.python_version()}, jax {jax.__version__} ({jax.default_backend()}); "
      f"date {now:%Y-%m-%d %H:%M} UTC.",
      "",
      "Columns: simulated step time (exact reference simulator), speedup over a single device and over "
      "the human expert, peak memory of the fullest device, out-of-memory, step time over the "
      "simulator's lower bound, simulator evaluations spent and wall-clock search seconds. Methods that "
      "cannot run on a problem show `-` and say why under the table.",
      "",
  ]
  if reused:
    header += [f"{reused} of these {len(records)} records were computed by earlier runs of this command and "
               "reused from `--rows_dir`; the machine and date above are this run's, and `search_s` is each "
               "record's own original search time.", ""]
  ran = set(r["method"] for r in records)
  skipped = [name for name in baselines.METHODS if name not in ran]
  if skipped:
    header += [f"Registered methods not run by this command: {', '.join(f'`{n}`' for n in skipped)}.", ""]
  return "\n".join(header) + "\n" + format_markdown_tables(records)


def write_markdown(records: list[dict[str, Any]], path: str, argv: Sequence[str], reused: int = 0) -> None:
  """Writes :func:`markdown_report` atomically (nothing half-written on failure)."""
  cli.write_atomically(markdown_report(records, argv, reused), path)


def write_json(records: list[dict[str, Any]], path: str) -> None:
  """Writes the records atomically (nothing half-written on failure)."""
  cli.write_atomically(json.dumps(records, indent=1), path)
