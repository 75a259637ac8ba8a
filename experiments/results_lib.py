"""Library behind ``python -m experiments.results``: GO-one vs the baselines on the paper's workloads.

Two suites, each rendered as a generated markdown page (``docs/results.md``):

* ``placement``: for every (workload, devices) pair, GO-one (placement only,
  ``budget`` simulator evaluations) next to the human expert, METIS, HEFT,
  the other constructive heuristics, HDP, and the search baselines BRKGA and
  relaxed-gradient descent (all three with the same budget). All step times are
  scored by the exact reference simulator. The convergence table compares
  GO-one with HDP: evaluations and wall-clock seconds each needed to reach
  HDP's final quality (the paper's "15x faster convergence" claim).
* ``joint``: for every workload, GO-one with the tasks placement only,
  scheduling only, fusion only and all three, each against the default
  (the expert placement, equal priorities so the ready queues are FIFO, no
  fusion; GO keeps it for the tasks it does not decide) and against the
  heuristics for that task.

Wins and losses are counted against the best baseline of each row, and every
number comes from a run of this module; nothing is hard-coded.

**Rows are resumable** (:class:`experiments.rows.RowStore`): with ``rows_dir`` every finished
row (one graph and device count; in the joint suite, one task variant too) is
written to its own JSON file there, keyed by everything that determines it
(suite, graph, devices, variant, budget, seed, HDP on/off, the whole effective
GO-one config). A placement row is stored as three parts, its constructive baselines and HDP,
its search baselines (both keyed without a GO config) and its GO-one run, so a changed GO
default reruns GO-one only.
A later run with the same ``rows_dir`` reuses rows whose key matches and
computes the rest, so the full suites (15-25 hours of a 2-core CPU for the
placement suite) can be run in pieces, across sessions or machines sharing the
folder, and rendered at the end.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import time
from typing import Any, Callable, Sequence

import jax
import ml_collections
import numpy as np

from experiments import cli
from experiments import rows as rows_lib
from go_jax import baselines
from go_jax import errors
from go_jax import evaluation
from go_jax.models import benchmark as model_benchmark
from go_jax.rl import config as rl_config
from go_jax.rl import train
import simulator
from simulator import cluster as cluster_lib

Progress = Callable[[str], None]

#: The paper's placement workloads and device counts (clusters are cut from ``v100x8``).
PLACEMENT_SUITE: tuple[tuple[str, int], ...] = (
    ("rnnlm_2", 2), ("rnnlm_4", 4), ("gnmt_2", 2), ("gnmt_4", 4), ("gnmt_8", 8), ("txl_2", 2),
    ("txl_4", 4), ("txl_8", 8), ("inception_v3", 4), ("amoebanet", 4), ("wavenet_2x18", 4),
    ("wavenet_4x36", 8))

#: Workloads of the joint suite (placement + scheduling + fusion is costly per sample on CPU).
JOINT_SUITE: tuple[tuple[str, int], ...] = (("txl_2", 4), ("wavenet_2x18", 4), ("inception_v3", 4))

#: Task variants of the joint suite: name -> GO's ``--config.tasks``.
JOINT_TASKS: dict[str, str] = {"placement": "placement", "scheduling": "scheduling", "fusion": "fusion",
                               "all three": "placement,scheduling,fusion"}

#: Placement baselines (constructive; the search baseline HDP is added with the suite's budget).
PLACEMENT_BASELINES = ("single", "expert", "metis", "heft", "m_topo", "m_etf", "contiguous")
#: Search baselines of the placement suite, run with GO-one's budget (a stored part of their own).
PLACEMENT_SEARCH = ("brkga", "gradient")

#: Per joint task: the heuristics GO is compared with (besides the default).
JOINT_BASELINES: dict[str, tuple[str, ...]] = {
    "placement": ("expert", "metis", "heft"),
    "scheduling": ("critical_path",),
    "fusion": ("xla_fusion", "fuse_all"),
    "all three": ("expert", "heft", "critical_path", "xla_fusion", "fuse_all"),
}

CLUSTER = "v100x8"

#: Seconds between GO-one's progress lines (besides its first and last iteration's).
PROGRESS_PERIOD_S = 60.0


def parse_graphs(spec: str | Sequence[str] | None, suite: str) -> list[tuple[str, int]]:
  """``"txl_2:4,wavenet_2x18"`` -> ``[("txl_2", 4), ("wavenet_2x18", <suite's devices or 4>)]``.

  An empty spec gives the suite's default list.
  """
  default = dict(PLACEMENT_SUITE if suite == "placement" else JOINT_SUITE)
  items = spec.split(",") if isinstance(spec, str) else list(spec or [])
  items = [item.strip() for item in items if item.strip()]
  if not items:
    return list(PLACEMENT_SUITE if suite == "placement" else JOINT_SUITE)
  parsed = []
  for item in items:
    name, _, devices = item.partition(":")
    if devices and not devices.isdigit():
      raise errors.InputError(f"--graphs: {item!r} is not NAME or NAME:DEVICES")
    parsed.append((name, int(devices) if devices else default.get(name, 4)))
  return parsed


def go_config(graph: str, devices: int, tasks: str, budget: int, seed: int,
              overrides: ml_collections.ConfigDict | None = None) -> ml_collections.ConfigDict:
  """The default GO-one config on ``graph`` with ``devices`` devices of :data:`CLUSTER`."""
  config = rl_config.get_default_config()
  if overrides is not None:
    config.update(overrides)
  config.graph, config.cluster, config.devices = graph, CLUSTER, devices
  config.tasks, config.seed = tasks, seed
  config.budget = budget
  config.num_iterations = max(1, budget // int(config.ppo.num_samples))
  config.patience = 0
  return config


@dataclasses.dataclass(frozen=True)
class GoRun:
  """One GO-one training run, scored exactly.

  Attributes:
    step_time: seconds, exact step time of the better of best-sampled and greedy decisions.
    oom: whether those decisions run out of memory.
    evaluations: simulator evaluations spent (sampled vectors + 1 greedy).
    seconds: wall-clock seconds of training (compilation included).
    curve: ``(evaluations, seconds, best step time so far)`` after each iteration
      (the vectorized simulator's float32 step times).
    teacher: the heuristics the warm start cloned (``go_jax/rl/imitation.py``), or None.
    teacher_step_time: their exact step time (s), or None.
  """

  step_time: float
  oom: bool
  evaluations: int
  seconds: float
  curve: list[tuple[int, float, float]]
  teacher: str | None = None
  teacher_step_time: float | None = None


def throttled(report: Callable[[int, dict[str, float]], None], planned: int,
              period_s: float = PROGRESS_PERIOD_S,
              clock: Callable[[], float] = time.monotonic) -> Callable[[int, dict[str, float]], None]:
  """A ``progress_fn`` for :func:`train.train` that passes on the first and the last
  (``planned``-th) iteration and otherwise at most one iteration per ``period_s`` seconds of
  ``clock``: a large graph's iteration takes a minute, a small one's a second."""
  last = [float("-inf")]

  def on_step(step: int, metrics: dict[str, float]) -> None:
    now = clock()
    if step in (1, planned) or now - last[0] >= period_s:
      last[0] = now
      report(step, metrics)

  return on_step


def run_go(problem: evaluation.Problem, config: ml_collections.ConfigDict,
           progress: Progress | None = None) -> GoRun:
  """Trains GO-one on ``problem`` with ``config`` (its ``budget``) and scores it exactly."""
  planned = train.planned_iterations(config)
  on_step = None
  if progress:
    on_step = throttled(lambda step, metrics: progress(train.format_progress(step, metrics, planned)),
                        planned)

  start = time.perf_counter()
  result = train.train(config, problem, progress_fn=on_step)
  seconds = time.perf_counter() - start
  use_greedy = (result.greedy_oom, result.greedy_step_time) < (result.best_oom, result.best_step_time)
  step_time = result.greedy_step_time if use_greedy else result.best_step_time
  oom = result.greedy_oom if use_greedy else result.best_oom
  curve = [(int(r["evaluations"]), float(r["wall_s"]), float(r["best_step_time"])) for r in result.history]
  # Each run compiles its own programs (its graph's shapes, its tasks); freeing them keeps a
  # long suite from exhausting the process (LLVM "Cannot allocate memory" after ~10 runs).
  jax.clear_caches()
  teacher = result.teacher
  return GoRun(step_time=step_time, oom=oom, evaluations=result.evaluations + 1, seconds=seconds, curve=curve,
               teacher=None if teacher is None else teacher.name,
               teacher_step_time=None if teacher is None else teacher.step_time)


def first_reaching(curve: Sequence[Sequence[float]], target: float) -> tuple[int, float] | None:
  """``(evaluations, seconds)`` of the first curve point with best step time <= ``target`` (or None).

  Args:
    curve: ``(evaluations, seconds, best_step_time)`` points in training order.
    target: step time (s) to reach; a relative slack of 1e-4 absorbs float32 rounding.
  """
  for evaluations, seconds, best in curve:
    if best <= target * (1.0 + 1e-4):
      return int(evaluations), float(seconds)
  return None


def load_problem(graph: str, devices: int, budget: int, seed: int) -> evaluation.Problem:
  """The placement suite's problem for ``graph`` on ``devices`` devices of :data:`CLUSTER`."""
  config = go_config(graph, devices, "placement", budget, seed)
  problem = train.load_problem(config)
  return dataclasses.replace(problem, budget=budget, seed=seed)


def _scores(records: list[dict[str, Any]]) -> dict[str, float | None]:
  """method -> exact step time (s), None when unavailable or OOM."""
  return {r["method"]: (None if r["step_time"] is None or r["oom"] else float(r["step_time"])) for r in records}


def _row_key(suite: str, graph: str, devices: int, budget: int, seed: int,
             config: ml_collections.ConfigDict | None, **extra: Any) -> dict[str, Any]:
  """A stored row's key; ``config``: the GO-one config the row depends on (None: none)."""
  config = None if config is None else rl_config.effective(config)
  return {"suite": suite, "graph": graph, "devices": devices, "budget": budget, "seed": seed,
          "config": config, **extra}


def _stamp(row: dict[str, Any], start: float) -> dict[str, Any]:
  """Adds the row's wall-clock seconds and finishing time (UTC)."""
  row["seconds"] = time.perf_counter() - start
  row["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  return row


def run_placement(graphs: Sequence[tuple[str, int]], budget: int, seed: int = 0, with_hdp: bool = True,
                  overrides: ml_collections.ConfigDict | None = None,
                  progress: Progress | None = None, store: rows_lib.RowStore | None = None,
                  with_search: bool = True, stored_only: bool = False) -> list[dict[str, Any]]:
  """Runs the placement suite; one row per (graph, devices) (see :func:`render`).

  With ``stored_only`` nothing is computed: a pair without its stored baselines or
  GO-one part becomes a ``{"pending": True}`` row, and one without its stored search
  part lists the search baselines in ``not_run``.
  """
  store = store or rows_lib.RowStore(None)
  rows = []
  for graph, devices in graphs:
    # A row is two stored parts: the baselines (HDP included), which do not depend on GO's
    # config, and the GO-one run, keyed by its whole effective config (so a changed default
    # reruns GO-one only).
    base_key = _row_key("placement", graph, devices, budget, seed, None, with_hdp=with_hdp)
    config = go_config(graph, devices, "placement", budget - 1, seed, overrides)
    go_key = _row_key("placement_go", graph, devices, budget, seed, config)
    search_key = _row_key("placement_search", graph, devices, budget, seed, None) if with_search else None
    base, go_part = store.get(base_key), store.get(go_key)
    search = store.get(search_key) if with_search else {"baselines": {}, "baseline_seconds": {}, "seconds": 0.0}
    if stored_only and (base is None or go_part is None):
      rows.append({"graph": graph, "devices": devices, "pending": True})
      continue
    if search is None and stored_only:
      search = {"baselines": {}, "baseline_seconds": {}, "seconds": 0.0, "not_run": list(PLACEMENT_SEARCH)}
    problem = None
    if base is None:
      start = time.perf_counter()
      if progress:
        progress(f"{graph} on {devices} devices: baselines")
      problem = load_problem(graph, devices, budget, seed)
      names = [n for n in PLACEMENT_BASELINES if n != "expert" or problem.expert is not None]
      if with_hdp:
        names.append("hdp")
      records = evaluation.evaluate(problem, baselines.METHODS, names, progress)
      hdp = next((r for r in records if r["method"] == "hdp" and r.get("learning_curve")), None)
      base = _stamp({"graph": graph, "nodes": problem.graph.num_nodes, "devices": devices,
                     "baselines": _scores(records), "baseline_seconds": {r["method"]: r["search_seconds"]
                                                                         for r in records},
                     "hdp_curve": hdp["learning_curve"] if hdp else None,
                     "hdp_evaluations": hdp["evaluations"] if hdp else None}, start)
      store.put(base_key, base)
    if search is None:
      start = time.perf_counter()
      if progress:
        progress(f"{graph} on {devices} devices: search baselines, {budget} evaluations each")
      problem = problem or load_problem(graph, devices, budget, seed)
      records = evaluation.evaluate(problem, baselines.METHODS, list(PLACEMENT_SEARCH), progress)
      search = _stamp({"baselines": _scores(records),
                       "baseline_seconds": {r["method"]: r["search_seconds"] for r in records}}, start)
      store.put(search_key, search)
    if go_part is None:
      start = time.perf_counter()
      if progress:
        progress(f"{graph} on {devices} devices: GO-one, {budget} evaluations")
      problem = problem or load_problem(graph, devices, budget, seed)
      go_part = _stamp({"go": dataclasses.asdict(run_go(problem, config, progress))}, start)
      store.put(go_key, go_part)
    parts = [base, search, go_part]
    rows.append({**base, "baselines": {**base["baselines"], **search["baselines"]},
                 "baseline_seconds": {**base["baseline_seconds"], **search["baseline_seconds"]},
                 "go": go_part["go"], "seconds": sum(p["seconds"] for p in parts),
                 "not_run": search.get("not_run", []),
                 "finished": max(p["finished"] for p in parts if "finished" in p)})
  return rows


def run_joint(graphs: Sequence[tuple[str, int]], budget: int, seed: int = 0,
              overrides: ml_collections.ConfigDict | None = None, progress: Progress | None = None,
              variants: Sequence[str] = tuple(JOINT_TASKS), store: rows_lib.RowStore | None = None,
              stored_only: bool = False) -> list[dict[str, Any]]:
  """Runs the joint suite; one row per (graph, task variant in ``variants``) (see :func:`render`).

  With ``stored_only`` nothing is computed: a variant without a stored row becomes a
  ``{"pending": True}`` row.
  """
  store = store or rows_lib.RowStore(None)
  rows = []
  for graph, devices in graphs:
    # Keyed by each variant's whole effective GO config, so a changed default is recomputed.
    keys = {v: _row_key("joint", graph, devices, budget, seed,
                        go_config(graph, devices, JOINT_TASKS[v], budget - 1, seed, overrides), variant=v)
            for v in variants}
    done = {v: store.get(k) for v, k in keys.items()}
    if stored_only or all(row is not None for row in done.values()):
      rows += [done[v] or {"graph": graph, "devices": devices, "variant": v, "pending": True} for v in variants]
      continue
    start = time.perf_counter()
    problem = load_problem(graph, devices, budget, seed)
    names = sorted({n for v in variants for n in JOINT_BASELINES[v]})
    names = [n for n in names if n != "expert" or problem.expert is not None]
    if progress:
      progress(f"{graph} on {devices} devices: baselines")
    scores = _scores(evaluation.evaluate(problem, baselines.METHODS, names, progress))
    default, _ = simulator.simulate_reference(problem.graph, problem.cluster, problem.default_decisions())
    default_time = None if np.any(default.oom) else float(default.step_time)
    baseline_seconds = time.perf_counter() - start
    for variant in variants:
      if done[variant] is not None:
        rows.append(done[variant])
        continue
      start = time.perf_counter() - baseline_seconds  # each computed row carries the baselines' time too
      tasks = JOINT_TASKS[variant]
      if progress:
        progress(f"{graph}: GO-one on {variant}, {budget} evaluations")
      go = run_go(problem, go_config(graph, devices, tasks, budget - 1, seed, overrides), progress)
      row = _stamp({"graph": graph, "nodes": problem.graph.num_nodes, "devices": devices, "variant": variant,
                    "tasks": tasks, "default": default_time,
                    "baselines": {n: scores.get(n) for n in JOINT_BASELINES[variant]},
                    "go": dataclasses.asdict(go)}, start)
      store.put(keys[variant], row)
      rows.append(row)
  return rows


# ---------------------------------------------------------------------------
# Markdown.
# ---------------------------------------------------------------------------


def machine_description() -> str:
  """One line: date (UTC), CPU, cores, Python and JAX."""
  import jax  # pylint: disable=g-import-not-at-top
  cpu = model_benchmark.cpu_name()
  date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  load = f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
  return (f"{date}; {cpu}, {os.cpu_count()} cores visible (shared{load}); Python {platform.python_version()}, "
          f"jax {jax.__version__} on {jax.default_backend()}")


def _ms(seconds: float | None) -> str:
  return "-" if seconds is None or not np.isfinite(seconds) else f"{1e3 * seconds:.4g}"


#: GO-one and a baseline within this relative difference tie: the same decisions scored in a
#: different order of float64 additions differ by ~1e-16, which must not count as a win.
TIE_RTOL = 1e-6


def _outcome(go_time: float | None, best_time: float) -> str:
  """``"wins"``, ``"ties"`` or ``"losses"``: GO-one's step time against the best baseline's."""
  if go_time is None or go_time > best_time * (1 + TIE_RTOL):
    return "losses"
  return "wins" if go_time < best_time * (1 - TIE_RTOL) else "ties"


def _outcome_lines(outcomes: dict[str, list[str]], total: int, against: str) -> list[str]:
  """The summary lines under a table: wins, ties (when any) and losses."""
  lines = [f"GO-one beats {against} on {len(outcomes['wins'])} of {total}: "
           + (", ".join(outcomes["wins"]) or "none") + "."]
  if outcomes["ties"]:
    lines.append(f"GO-one ties (within {TIE_RTOL:g} relative) on {len(outcomes['ties'])}: "
                 + ", ".join(outcomes["ties"]) + ".")
  lines.append(f"GO-one loses on {len(outcomes['losses'])}: " + (", ".join(outcomes["losses"]) or "none") + ".")
  return lines


def _best(scores: dict[str, float | None]) -> tuple[str, float] | None:
  valid = [(t, n) for n, t in scores.items() if t is not None]
  if not valid:
    return None
  time_s, name = min(valid)
  return name, time_s


def _go_time(go: dict[str, Any]) -> float | None:
  return None if go["oom"] else go["step_time"]


def render_placement(rows: list[dict[str, Any]], budget: int) -> list[str]:
  """The placement section: step-time table, wins/losses, convergence vs HDP."""
  waiting = [f"{row['graph']}/{row['devices']}" for row in rows if row.get("pending")]
  rows = [row for row in rows if not row.get("pending")]
  methods = list(dict.fromkeys(m for r in rows for m in r["baselines"]))
  out = ["## Placement", "",
         f"GO-one trains a fresh policy on each graph (placement only, {budget} simulator evaluations); "
         "HDP, BRKGA and the relaxed-gradient search get the same budget. Step times in ms (exact reference simulator); OOM or unavailable: `-`. "
         "`GO / best` < 1 means GO-one is faster than the best baseline of the row.", "",
         "GO-one starts with the imitation warm start of its config (`go_jax/rl/imitation.py`; on by "
         "default): it clones the best constructive heuristic placement, scoring each candidate against "
         "the budget. Each PPO iteration is then preceded by pathwise steps (`go_jax/rl/pathwise.py`; on "
         "by default): Adam on the policy's parameters through the relaxed simulator, the objective the "
         "`gradient` baseline descends on free per-node logits; each relaxed step counts as one "
         "evaluation, as it does for `gradient`. By default the policy also has free per-node logits "
         "(`model.node_logit_scale`, `docs/go_one_tuning.md`) added to its network's, so the clone can "
         "be exact and the descent can move single nodes. Only the policy's own decisions (samples and "
         "argmaxes) are reported, never the teacher's.", "",
         "| graph | nodes | devices | " + " | ".join(methods) + " | GO-one | GO / best | GO / expert |",
         "|---|---:|---:|" + "---:|" * (len(methods) + 3)]
  outcomes = {"wins": [], "ties": [], "losses": []}
  for row in rows:
    go_time = _go_time(row["go"])
    best = _best(row["baselines"])
    expert = row["baselines"].get("expert")
    ratio = "-" if go_time is None or best is None else f"{go_time / best[1]:.3f}"
    vs_expert = "-" if go_time is None or expert is None else f"{go_time / expert:.3f}"
    out.append(f"| {row['graph']} | {row['nodes']:,} | {row['devices']} | "
               + " | ".join("not run" if m in row.get("not_run", ()) else _ms(row["baselines"].get(m))
                            for m in methods)
               + f" | {_ms(go_time)} | {ratio} | {vs_expert} |")
    if best is not None:
      label = f"{row['graph']}/{row['devices']} (best baseline {best[0]})"
      outcomes[_outcome(go_time, best[1])].append(label)
  pending = [f"{row['graph']}/{row['devices']}" for row in rows if row.get("not_run")]
  if pending:
    out += ["", f"`not run`: the search baselines of {', '.join(pending)} are not computed yet (the page "
            "was rendered from stored rows only, `--stored_only`); there `GO / best` compares with "
            "the baselines that ran."]
  if waiting:
    out += ["", f"Not computed yet, so not in the table (`--stored_only`): {', '.join(waiting)}."]
  out += ["", *_outcome_lines(outcomes, len(rows), "the best baseline"), ""]
  speedups = [row["baselines"]["expert"] / _go_time(row["go"]) for row in rows
              if _go_time(row["go"]) and row["baselines"].get("expert")]
  if speedups:
    geo = float(np.exp(np.mean(np.log(speedups))))
    out += [f"Geometric-mean speedup of GO-one over the human expert: {geo:.3f}x "
            f"(the paper reports 1.21x on real hardware).", ""]
  out += ["### Convergence vs HDP", "",
          "Evaluations and wall-clock seconds until the best step time reaches HDP's final best "
          "(the training curves; GO's curve uses the vectorized simulator, its first point is after the "
          "warm start and the first PPO iteration). GO's seconds include everything outside its PPO loop "
          "(set-up, the warm start's heuristics and cloning, and the final exact re-scoring). HDP starts "
          "from scratch and GO-one from a heuristic's clone, so these ratios mostly measure the warm "
          "start.", "",
          "| graph | devices | HDP final (ms) | HDP evals | HDP s | GO evals to reach it | GO s to reach it "
          "| speed-up in evals |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
  for row in rows:
    curve = row.get("hdp_curve")
    if not curve:
      out.append(f"| {row['graph']} | {row['devices']} | - | - | - | - | - | - |")
      continue
    target = float(curve[-1][2])
    hdp_reach = first_reaching(curve, target)
    go_curve = row["go"]["curve"]
    go_reach = first_reaching(go_curve, target)
    # The curve's clock starts at the PPO loop; add everything outside it (set-up, the warm
    # start, and conservatively the final exact re-scoring) so no GO-one time goes uncounted.
    outside_loop = max(0.0, float(row["go"]["seconds"]) - float(go_curve[-1][1])) if go_curve else 0.0
    go_text = ("not reached", "-", "-") if go_reach is None else (
        f"{go_reach[0]}", f"{go_reach[1] + outside_loop:.0f}", f"{hdp_reach[0] / max(go_reach[0], 1):.2g}x")
    out.append(f"| {row['graph']} | {row['devices']} | {_ms(target)} | {hdp_reach[0]} | {hdp_reach[1]:.0f} | "
               + " | ".join(go_text) + " |")
  out.append("")
  return out


def render_joint(rows: list[dict[str, Any]], budget: int) -> list[str]:
  """The joint section: per graph and task variant, GO-one vs the default and the task's heuristics."""
  out = ["## Joint placement, scheduling and fusion", "",
         f"GO-one per task variant ({budget} evaluations each). Default: the human-expert placement, equal "
         "priorities (level order, the static form of TensorFlow's FIFO ready queues), no fusion "
         "(`Problem.default_decisions`). GO-one keeps the default's decisions for the tasks it does not "
         "decide, and so do the heuristics (scheduling and fusion heuristics run on the expert placement; "
         "`fuse_all` alone runs on the faster of one device and the expert placement, so in the fusion "
         "rows it also chooses a placement, which fusion-only GO-one cannot). "
         "Step times in ms (exact reference simulator).", "",
         "GO-one starts with the imitation warm start (`go_jax/rl/imitation.py`): it clones the best "
         "heuristic decisions for the tasks it decides (placement heuristics; `none`, `xla_fusion` or "
         "`fuse_all` scored with each placement; then level-order, critical-path or FIFO priorities "
         "quantised to its 8 levels), each candidate scored against its budget. The `warm start` column "
         "names that teacher and its step time (`not recorded`: a row stored before the column existed); "
         "GO-one reports only its own decisions, never the teacher's.", "",
         "| graph | tasks | default | heuristics | warm start | GO-one | speedup vs default | "
         "GO / best heuristic |",
         "|---|---|---:|---|---|---:|---:|---:|"]
  outcomes, waiting = {"wins": [], "ties": [], "losses": []}, []
  for row in rows:
    if row.get("pending"):
      waiting.append(f"{row['graph']}/{row['variant']}")
      out.append(f"| {row['graph']} | {row['variant']} | not run | - | - | not run | - | - |")
      continue
    go_time = _go_time(row["go"])
    best = _best(row["baselines"])
    heuristics = ", ".join(f"{n} {_ms(t)}" for n, t in row["baselines"].items())
    speedup = "-" if go_time is None or row["default"] is None else f"{row['default'] / go_time:.3f}x"
    ratio = "-" if go_time is None or best is None else f"{go_time / best[1]:.3f}"
    teacher = row["go"].get("teacher")
    # "not recorded": a row stored before GoRun had the field.
    warm = ("not recorded" if "teacher" not in row["go"] else "none" if not teacher
            else f"{teacher} {_ms(row['go'].get('teacher_step_time'))}")
    out.append(f"| {row['graph']} | {row['variant']} | {_ms(row['default'])} | {heuristics or '-'} | {warm} | "
               f"{_ms(go_time)} | {speedup} | {ratio} |")
    if best is not None:
      outcomes[_outcome(go_time, best[1])].append(f"{row['graph']}/{row['variant']}")
  if waiting:
    out += ["", f"`not run`: {', '.join(waiting)} not computed yet (rendered from stored rows only, "
            "`--stored_only`)."]
  out += ["", *_outcome_lines(outcomes, len(rows) - len(waiting), "the task's best heuristic"),
          "The paper reports 33%-60% speedups over TensorFlow's default on the three tasks.", ""]
  return out


def render(suite: str, rows: list[dict[str, Any]], budget: int, command: str, seconds: float,
           reused: int = 0) -> str:
  """The whole generated page (``reused``: stored parts taken from a :class:`RowStore`, computed earlier)."""
  if reused:
    row_minutes = sum(r.get("seconds", 0.0) for r in rows) / 60
    finished = sorted(r["finished"] for r in rows if "finished" in r)
    span = f", finished {finished[0]} to {finished[-1]}" if finished else ""
    timing = (f"This run: {seconds / 60:.1f} min; {reused} stored parts of these {len(rows)} rows (a row's "
              f"constructive baselines and HDP, its search baselines, its GO-one run) were computed earlier and reused from the rows folder; all rows "
              f"together took {row_minutes:.1f} min{span}.")
  else:
    timing = f"Total wall-clock: {seconds / 60:.1f} min."
  head = ["# GO-one results (generated)", "",
          f"Generated by `{command}`; do not edit by hand.", "",
          f"Machine: {machine_description()}. {timing}", "",
          "Cluster: the first `devices` V100s of `v100x8` (simulated). GO-one config: "
          "`go_jax/rl/config.py` defaults and the command's `--config` overrides (seed 0), one fresh policy per graph "
          "and task variant.", ""]
  body = render_placement(rows, budget) if suite == "placement" else render_joint(rows, budget)
  return "\n".join(head + body)


def run(suite: str, graphs: str | Sequence[str] | None, budget: int, seed: int = 0, with_hdp: bool = True,
        overrides: ml_collections.ConfigDict | None = None, progress: Progress | None = None,
        variants: Sequence[str] = tuple(JOINT_TASKS), store: rows_lib.RowStore | None = None,
        with_search: bool = True, stored_only: bool = False) -> tuple[list[dict[str, Any]], float]:
  """Runs ``suite`` (``placement`` or ``joint``); returns the rows and the wall-clock seconds.

  Args:
    suite: ``placement`` or ``joint``.
    graphs: NAME or NAME:DEVICES items (:func:`parse_graphs`); empty: the suite's list.
    budget: simulator evaluations of each GO-one run (and of HDP).
    seed: seed of GO-one and the stochastic baselines.
    with_hdp: placement suite: run HDP and the convergence comparison.
    with_search: placement suite: run the search baselines :data:`PLACEMENT_SEARCH`.
    stored_only: compute nothing, render what ``store`` holds; parts not stored yet are
      marked ``not run`` (render a page while they are still computing elsewhere).
    overrides: a full GO-one config whose fields replace the defaults (graph,
      cluster, devices, tasks, seed and budget are then set per run).
    progress: called with one line per stage.
    variants: joint suite: keys of :data:`JOINT_TASKS` to run.
    store: where finished rows are kept and reused (:class:`experiments.rows.RowStore`); default: nowhere.
  """
  unknown = [v for v in variants if v not in JOINT_TASKS]
  if unknown:
    raise errors.InputError(f"unknown task variant(s) {unknown} (known: {', '.join(JOINT_TASKS)})")
  if suite not in ("placement", "joint"):
    raise errors.InputError(f"--suite must be placement or joint, got {suite!r}")
  if budget < 2:
    raise errors.InputError(f"--budget must be >= 2, got {budget}")
  parsed = parse_graphs(graphs, suite)
  for _, devices in parsed:
    if not 1 <= devices <= cluster_lib.get_cluster(CLUSTER).num_devices:
      raise errors.InputError(f"--graphs: {devices} devices is not in 1..8")
  start = time.perf_counter()
  if suite == "placement":
    rows = run_placement(parsed, budget, seed, with_hdp, overrides, progress, store, with_search,
                         stored_only)
  else:
    rows = run_joint(parsed, budget, seed, overrides, progress, variants, store, stored_only)
  return rows, time.perf_counter() - start
