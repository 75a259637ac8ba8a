"""Library behind ``python -m experiments.transfer_results``: GO's transfer to held-out families.

For every held-out family F (:func:`run_family`):

1. pretrain on every family but F (:func:`go_jax.rl.pretrain.pretrain_and_save`,
   ``holdout=F``, into ``<workdir>/<F>/pretrain``; an existing run resumes);
2. take F's target graph (:data:`TARGETS`, a zoo variant) on the cluster;
3. zero-shot: the pretrained policy's greedy decisions (exact step time);
4. fine-tune from the pretrained parameters for ``max(finetune_steps)`` PPO
   iterations; the step time after k steps is the best of the zero-shot
   decisions and the best sampled so far (vectorized simulator), and the last
   one is re-scored exactly (:func:`go_jax.rl.pretrained.finetune`);
5. GO-one on the target alone (no pretraining) with the same config: network,
   PPO settings and simulator budget (:func:`go_jax.rl.train.train`). The
   pretraining config turns GO-one's imitation warm start off
   (``imitation.steps = 0``), so it starts from random parameters. Its
   pathwise steps stay on: an iteration also takes ``pathwise.steps`` Adam
   steps on the placement through the relaxed simulator and scores its argmax,
   so it costs more evaluations than a fine-tuning iteration (plain PPO) and
   GO-one gets fewer;
6. every baseline of :data:`go_jax.baselines.METHODS` except the learned ones
   (``go_one``, and ``go``, the shipped policy) with the same simulator budget
   (``max(finetune_steps) * num_samples``), the best feasible one reported;
7. the fine-tuning steps needed to come within 5% of GO-one's final step time,
   and the iterations GO-one itself needed to get there; the ratio of their
   simulator evaluations is how much faster fine-tuning reaches that quality
   than GO-one itself, which trains on the target alone.

Every family's record is kept in a :class:`experiments.rows.RowStore`, keyed by
everything that determines it (the effective pretraining config, target,
cluster, fine-tuning steps, baselines), so families can run in pieces, on
different cores or days, and :func:`run` with ``stored_only`` renders the page
from what is stored. :func:`write_markdown` renders the records as
``docs/transfer.md`` and their curves as a PNG beside it. Nothing here is
hard-coded: every number comes from the runs.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
import time
from typing import Any, Callable, Sequence

import ml_collections
import numpy as np

from experiments import cli
from experiments import optimize_lib
from experiments import rows as rows_lib
from go_jax import baselines
from go_jax import errors
from go_jax import evaluation
from go_jax.rl import config as rl_config
from go_jax.rl import pretrain
from go_jax.rl import pretrained as pretrained_lib
from go_jax.rl import train
from simulator import cluster as cluster_lib

#: Held-out family -> its target graph (a zoo variant, ``workload:knob=value,...``), sized for CPU runs.
TARGETS = {
    "rnnlm": "rnnlm_2:unroll=6",
    "gnmt": "gnmt_2:unroll=2",
    "txl": "txl_2:num_segments=1,num_layers=1",
    "bert": "bert_base:num_layers=1",
    "wavenet": "wavenet_2x18:num_stacks=1,layers_per_stack=4",
}
WITHIN = 0.05  # "within 5% of GO-one"
#: Registered methods that are GO itself, never a "baseline" of the transfer table.
LEARNED = ("go_one", "go")


def log(message: str) -> None:
  print(f"[transfer] {message}", file=sys.stderr, flush=True)


def every(period: int, label: str, total: int | None = None, progress: Callable[[str], None] = log,
          show_best: bool = True) -> Callable[[int, dict[str, float]], None]:
  """A ``progress_fn`` that logs one line every ``period`` iterations (best step time, wall-clock, ETA).

  ``show_best=False`` for pretraining, whose batches change graph every iteration.
  """
  start = time.perf_counter()

  def report(step: int, metrics: dict[str, float]) -> None:
    if step % period:
      return
    elapsed = time.perf_counter() - start
    eta = f", ETA {elapsed / step * (total - step):.0f} s" if total and step else ""
    best = metrics.get("best_step_time") if show_best else None
    best_text = f", best {1e3 * best:.4g} ms" if best is not None and np.isfinite(best) else ""
    progress(f"{label}: iteration {step}{f'/{total}' if total else ''}{best_text}, {elapsed:.0f} s{eta}")

  return report


def target_problem(family: str, cluster: cluster_lib.Cluster, budget: int, seed: int,
                   target: str | None = None) -> evaluation.Problem:
  """The held-out family's target graph on ``cluster`` (with the zoo's expert placement when there is one)."""
  from go_jax import workloads  # pylint: disable=g-import-not-at-top
  spec = target or TARGETS.get(family)
  if spec is None:
    raise errors.InputError(f"no target graph for family {family!r} (known: {', '.join(TARGETS)}); "
                            "pass --target=workload:knob=value")
  name, knobs = workloads.parse_variant(spec)
  graph = workloads.get_graph(name, **knobs)
  try:
    expert = np.asarray(workloads.expert_placement(name, graph, cluster.num_devices), np.int32)
  except (errors.InputError, KeyError, ValueError):
    expert = None
  return evaluation.Problem(graph, cluster, budget=budget, seed=seed, expert=expert)


def _first_within(curve: Sequence[float], goal: float) -> int | None:
  hits = [k + 1 for k, value in enumerate(curve) if value <= goal]
  return hits[0] if hits else None


#: The parts of a family's record, each kept in ``<workdir>/<family>/<phase>.json`` once done:
#: ``pretrain`` (step 1), ``finetune`` (zero-shot and fine-tuning from that pretraining: steps 3-4;
#: it runs ``pretrain`` first when that is not done), ``go_one`` (step 5) and ``baselines``
#: (step 6). GO-one and the baselines never read the pretrained policy, so the phases can run in
#: separate processes (``--phases``), one per core.
PHASES = ("pretrain", "finetune", "go_one", "baselines")


def _pretrain_phase(family: str, pretrain_config: ml_collections.ConfigDict, workdir: str,
                    progress: Callable[[str], None]) -> dict[str, Any]:
  """Step 1: pretrain without ``family`` into ``<workdir>/<family>/pretrain`` (an existing run resumes)."""
  config = ml_collections.ConfigDict(pretrain_config.to_dict())
  config.holdout = family
  run_dir = pretrain_dir(workdir, family)
  progress(f"{family}: pretraining without it in {run_dir}")
  summary = pretrain.pretrain_and_save(config, run_dir, every(10, f"{family}: pretraining", show_best=False))
  return {"pretrain_iterations": summary["iterations"], "pretrain_graphs_seen": summary["graphs_seen"],
          # a resumed pretraining run counts its earlier processes too
          "pretrain_seconds": summary["total_wall_s"], "training_set": summary["training_set"]}


def pretrain_dir(workdir: str, family: str) -> str:
  """Where the policy pretrained without ``family`` is kept."""
  return os.path.join(workdir, family, "pretrain")


def _finetune_phase(family: str, workdir: str, problem: evaluation.Problem, max_steps: int,
                    progress: Callable[[str], None]) -> dict[str, Any]:
  """Steps 3 and 4: the pretrained policy's zero-shot decisions on ``problem``, then fine-tuning."""
  policy = pretrained_lib.load_policy(pretrain_dir(workdir, family))
  graph, cluster = problem.graph, problem.cluster

  start = time.perf_counter()
  zero = pretrained_lib.zero_shot(policy, graph, cluster)
  zero_seconds = time.perf_counter() - start
  zero_record = evaluation.evaluate(problem, {"go": lambda _: evaluation.MethodOutput(zero)}, ["go"])[0]

  progress(f"{family}: fine-tuning {max_steps} iterations")
  start = time.perf_counter()
  tuned = pretrained_lib.finetune(policy, problem, max_steps,
                                  progress_fn=every(50, f"{family}: fine-tuning", max_steps))
  finetune_seconds = time.perf_counter() - start
  zero_feasible = np.inf if zero_record["oom"] else zero_record["step_time"]
  curve = [min(zero_feasible, value) for value in tuned.curve]
  if curve and not tuned.oom:  # the last point: the exact score of the best final candidate
    curve[-1] = min(curve[-1], tuned.step_time)
  return {
      "reference_step_time": tuned.reference_step_time,
      "zero_shot_step_time": zero_record["step_time"], "zero_shot_oom": zero_record["oom"],
      "zero_shot_seconds": zero_seconds, "finetune_seconds": finetune_seconds,
      "finetune_curve": [float(x) for x in curve],
  }


def _go_one_phase(family: str, pretrain_config: ml_collections.ConfigDict, problem: evaluation.Problem,
                  max_steps: int, progress: Callable[[str], None]) -> dict[str, Any]:
  """Step 5: GO-one on ``problem`` alone, from random parameters, with the pretraining config and budget."""
  one_config = ml_collections.ConfigDict(pretrain_config.to_dict())
  one_config.patience = 0
  one_config.num_iterations = max_steps
  one_config.budget = problem.budget
  one_iterations = train.planned_iterations(one_config, problem.budget)  # the budget ends it first
  progress(f"{family}: GO-one (no pretraining), {one_iterations} iterations ({problem.budget} evaluations)")
  start = time.perf_counter()
  one = train.train(one_config, problem, budget=problem.budget,
                    progress_fn=every(50, f"{family}: GO-one", one_iterations))
  go_one_time = min(one.best_step_time if not one.best_oom else np.inf,
                    one.greedy_step_time if not one.greedy_oom else np.inf)
  return {"go_one_step_time": float(go_one_time), "go_one_iterations": one.iterations,
          "go_one_seconds": time.perf_counter() - start,
          "go_one_curve": [float(x) for x in np.minimum.accumulate([h["best_step_time"] for h in one.history])]}


def _baselines_phase(family: str, problem: evaluation.Problem, baseline_names: Sequence[str] | None,
                     progress: Callable[[str], None]) -> dict[str, Any]:
  """Step 6: every non-learned method with the same simulator budget; the best feasible one."""
  names = list(baseline_names) if baseline_names else [m for m in baselines.METHODS if m not in LEARNED]
  names = [m for m in names if m != "expert" or problem.expert is not None]
  progress(f"{family}: baselines {', '.join(names)} with a budget of {problem.budget} evaluations")
  records = evaluation.evaluate(problem, baselines.METHODS, names, progress)
  feasible = [r for r in records if r["step_time"] is not None and not r["oom"]]
  best = min(feasible, key=lambda r: r["step_time"]) if feasible else None
  return {"best_baseline": best["method"] if best else None,
          "best_baseline_step_time": best["step_time"] if best else None,
          "baselines": {r["method"]: r["step_time"] for r in records}}


def _read_phase(path: str) -> dict[str, Any] | None:
  """A phase file written by :func:`run_family`, or None (absent, or cut off mid-write by hand)."""
  try:
    with open(path) as f:
      data = json.load(f)
  except (OSError, ValueError):
    return None
  return data if isinstance(data, dict) and "result" in data else None


def run_family(family: str, pretrain_config: ml_collections.ConfigDict, workdir: str, cluster_spec: str,
               finetune_steps: Sequence[int], baseline_names: Sequence[str] | None = None,
               target: str | None = None, progress: Callable[[str], None] = log,
               phases: Sequence[str] = PHASES) -> dict[str, Any] | None:
  """Runs steps 1-7 of the module docstring for one held-out family; returns its record (seconds).

  Each phase (:data:`PHASES`) is reused from ``<workdir>/<family>/<phase>.json``
  when that file was written with the same settings (:func:`record_key`), else
  computed if it is in ``phases`` and written there. Returns None, after
  saying which phases are missing, until all of them are done.
  """
  unknown = sorted(set(phases) - set(PHASES))
  if unknown:
    raise errors.InputError(f"--phases: unknown {', '.join(unknown)} (known: {', '.join(PHASES)})")
  key = record_key(family, pretrain_config, cluster_spec, finetune_steps, baseline_names, target)
  cluster = cluster_lib.get_cluster(cluster_spec)
  steps = sorted({int(s) for s in finetune_steps})
  max_steps = steps[-1]
  budget = max_steps * int(pretrain_config.ppo.num_samples)
  problem = target_problem(family, cluster, budget, int(pretrain_config.seed), target)
  graph = problem.graph
  progress(f"{family}: target {graph.name} ({graph.num_nodes} nodes) on {cluster.name}")
  compute = {
      "pretrain": lambda: _pretrain_phase(family, pretrain_config, workdir, progress),
      "finetune": lambda: _finetune_phase(family, workdir, problem, max_steps, progress),
      "go_one": lambda: _go_one_phase(family, pretrain_config, problem, max_steps, progress),
      "baselines": lambda: _baselines_phase(family, problem, baseline_names, progress),
  }
  wanted = set(phases) | ({"pretrain"} if "finetune" in phases else set())  # fine-tuning needs the policy
  parts, missing = {}, []
  os.makedirs(os.path.join(workdir, family), exist_ok=True)
  for phase in PHASES:
    path = os.path.join(workdir, family, f"{phase}.json")
    cached = _read_phase(path)
    if cached is not None and cached.get("key") == key:
      progress(f"{family}: {phase} reused from {path}")
      parts.update(cached["result"])
    elif phase in wanted:
      result = compute[phase]()
      optimize_lib.write_json_atomically({"key": key, "result": result}, path)
      parts.update(result)
    else:
      missing.append(phase)
  if missing:
    progress(f"{family}: {', '.join(missing)} not run yet (--phases); no record stored")
    return None
  curve, go_one_time = parts["finetune_curve"], parts["go_one_step_time"]
  return {
      "family": family, "target": graph.name, "nodes": graph.num_nodes, "cluster": cluster.name,
      **parts, "budget": budget,
      "finetune_step_time": {str(k): (curve[k - 1] if k <= len(curve) else None) for k in steps},
      "steps_within_5pct_of_go_one": _first_within(curve, (1 + WITHIN) * go_one_time),
      "go_one_steps_within_5pct": _first_within(parts["go_one_curve"], (1 + WITHIN) * go_one_time),
  }


def _ms(value: Any) -> str:
  return "-" if value is None or not np.isfinite(value) else f"{1e3 * float(value):.4g}"


def _ratio(numerator: Any, denominator: Any) -> float | None:
  if numerator is None or denominator is None or not np.isfinite(numerator) or not np.isfinite(denominator):
    return None
  return float(numerator) / float(denominator)


def _to_goal(iterations: int | None, cost: int) -> str:
  """``iterations / evaluations`` (``cost`` evaluations per iteration), or ``not reached``."""
  return "not reached" if iterations is None else f"{iterations} / {iterations * cost}"


def _speedup(record: dict[str, Any], costs: tuple[int, int]) -> str:
  """Simulator evaluations GO-one needed to come within 5% of its own final, over fine-tuning's."""
  ft, one = record.get("steps_within_5pct_of_go_one"), record.get("go_one_steps_within_5pct")
  if ft is None or one is None:
    return "-"
  ratio = one * costs[1] / (ft * costs[0])
  return f"{ratio:.3g}x" if ratio >= 1 else f"{ratio:.2g}x (fine-tuning {1 / ratio:.3g}x slower)"


def plot_curves(results: Sequence[dict[str, Any]], path: str, costs: tuple[int, int]) -> bool:
  """Saves one panel per family: fine-tuning's and GO-one's best step time (ms) against the
  simulator evaluations spent (``costs``: evaluations per fine-tuning and per GO-one iteration).

  Returns False (and writes nothing) when no record carries curves.
  """
  done = [r for r in results if r.get("finetune_curve") and r.get("go_one_curve")]
  if not done:
    return False
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, axes = pyplot.subplots(1, len(done), figsize=(4.5 * len(done), 3.6), squeeze=False)
  for ax, r in zip(axes[0], done):
    for name, curve, cost in (("fine-tuned", r["finetune_curve"], costs[0]),
                              ("GO-one (no pretraining)", r["go_one_curve"], costs[1])):
      ax.plot(cost * np.arange(1, len(curve) + 1), 1e3 * np.asarray(curve, float), label=name)
    for name, value, style in (("zero-shot", r["zero_shot_step_time"], ":"),
                               (f"best baseline ({r['best_baseline']})", r["best_baseline_step_time"], "--")):
      if value is not None and np.isfinite(value):
        ax.axhline(1e3 * value, linestyle=style, linewidth=1, color="gray" if style == "--" else "black",
                   label=name)
    ax.set_xscale("log")
    ax.set_title(f"held out: {r['family']} ({r['target']})", fontsize="medium")
    ax.set_xlabel("simulator evaluations on the target")
    ax.set_ylabel("best step time so far (ms)")
    ax.legend(fontsize="small")
  figure.tight_layout()
  tmp = path + ".tmp.png"
  figure.savefig(tmp, dpi=90)
  pyplot.close(figure)
  os.replace(tmp, path)
  return True


def write_markdown(results: Sequence[dict[str, Any]], path: str, command: str,
                   costs: tuple[int, int]) -> None:
  """Writes the results table and how it was produced to ``path`` (atomically), the curves beside it.

  ``results`` may hold ``{"family": F, "pending": True}`` for families not run yet (``--stored_only``).
  ``costs``: simulator evaluations per fine-tuning iteration and per GO-one iteration (the same
  budget buys GO-one fewer iterations when its pathwise steps are on).
  """
  done = [r for r in results if not r.get("pending")]
  steps = sorted({int(k) for r in done for k in r["finetune_step_time"]})
  header = (["held-out family", "target (nodes)", "zero-shot ms"] + [f"FT {k} ms" for k in steps]
            + ["GO-one ms", "zero-shot / GO-one", "best baseline (same budget)",
               "FT to 5% of GO-one (iterations / evals)", "GO-one to 5% of its final (iterations / evals)",
               "FT speed-up (evals)"])
  lines = ["# Transfer to held-out families", "",
           "Generated by `experiments.transfer_results`; every number below comes from the runs it made "
           "(each family's record is kept in the rows folder, so families run in pieces).", "",
           f"Command: `{command}`", "",
           f"Machine: {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), "
           f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.", "",
           "Step times are exact (reference simulator) except the intermediate fine-tuning columns, which are "
           "the best decisions sampled so far under the vectorized simulator (or the zero-shot decisions, if "
           "better). FT = fine-tuning from the policy pretrained without the family; GO-one = the same network "
           f"trained on the target alone (no pretraining) with the same simulator budget (a fine-tuning iteration "
           f"costs {costs[0]} evaluations, a GO-one iteration {costs[1]}: its pathwise placement steps through the "
           "relaxed simulator and its argmax's exact score count too). Both start without a heuristic warm start "
           "(the pretraining config's `imitation.steps = 0`): GO-one from random parameters, fine-tuning from the "
           "pretrained ones, with plain PPO. The best "
           "baseline ran with the same "
           "simulator budget and is the best of every registered non-learned method, `fuse_all` (fusion "
           "everywhere on the faster of one device and the expert placement) included: a joint policy's "
           "zero-shot decisions must beat that trivial rule to mean anything. `FT speed-up` = the simulator "
           "evaluations GO-one needed to come within 5% of its own final step time, over those fine-tuning "
           "needed to come within 5% of it (the goal: at least 10x).", "",
           "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for r in results:
    if r.get("pending"):
      lines.append("| " + " | ".join([r["family"]] + ["not run"] * (len(header) - 1)) + " |")
      continue
    best = f"{r['best_baseline']} {_ms(r['best_baseline_step_time'])}" if r["best_baseline"] else "-"
    within = r["steps_within_5pct_of_go_one"]
    ratio = _ratio(r["zero_shot_step_time"] if not r.get("zero_shot_oom") else None, r["go_one_step_time"])
    own = r.get("go_one_steps_within_5pct")
    row = ([r["family"], f"{r['target']} ({r['nodes']})", _ms(r["zero_shot_step_time"])]
           + [_ms(r["finetune_step_time"].get(str(k))) for k in steps]
           + [_ms(r["go_one_step_time"]), "-" if ratio is None else f"{ratio:.3f}", best,
              _to_goal(within, costs[0]),
              "not recorded" if "go_one_steps_within_5pct" not in r else _to_goal(own, costs[1]),
              _speedup(r, costs)])
    lines.append("| " + " | ".join(row) + " |")
  png = os.path.splitext(path)[0] + "_curves.png"
  if plot_curves(done, png, costs):
    lines += ["", f"![fine-tuning and GO-one curves]({os.path.basename(png)})"]
  lines += ["", "Per family: pretraining iterations / graphs seen / seconds, zero-shot and fine-tuning seconds:", ""]
  for r in done:
    lines.append(f"- {r['family']}: pretrained {r['pretrain_iterations']} iterations on {r['pretrain_graphs_seen']} "
                 f"graphs ({r['training_set']} real + synthetic) in {r['pretrain_seconds']:.0f} s; zero-shot "
                 f"{r['zero_shot_seconds']:.2f} s; fine-tuning {r['finetune_seconds']:.0f} s; GO-one "
                 f"{r['go_one_seconds']:.0f} s; cluster {r['cluster']}.")
  lines.append("")
  cli.write_atomically("\n".join(lines), path)


def record_key(family: str, pretrain_config: ml_collections.ConfigDict, cluster_spec: str,
               finetune_steps: Sequence[int], baseline_names: Sequence[str] | None,
               target: str | None = None) -> dict[str, Any]:
  """What a family's record depends on (a stored record with another key is recomputed)."""
  return {"suite": "transfer", "graph": family, "target": target or TARGETS.get(family),
          "cluster": cluster_spec, "finetune_steps": sorted({int(s) for s in finetune_steps}),
          "baselines": list(baseline_names) if baseline_names else None,
          "config": rl_config.effective(pretrain_config)}


def run(families: Sequence[str], pretrain_config: ml_collections.ConfigDict, workdir: str, cluster_spec: str,
        finetune_steps: Sequence[int], baseline_names: Sequence[str] | None, out_md: str | None,
        argv: Sequence[str], store: rows_lib.RowStore | None = None,
        stored_only: bool = False, phases: Sequence[str] = PHASES) -> list[dict[str, Any]]:
  """Runs (or, from ``store``, reuses) every family; writes ``<workdir>/transfer.json`` after each, then the page.

  With ``stored_only`` nothing is computed: families without a stored record
  are listed as not run.
  """
  store = store or rows_lib.RowStore(None)
  os.makedirs(workdir, exist_ok=True)
  results = []
  for family in families:
    key = record_key(family, pretrain_config, cluster_spec, finetune_steps, baseline_names)
    record = store.get(key)
    if record is None and stored_only:
      record = {"family": family, "pending": True}
    elif record is None:
      record = run_family(family, pretrain_config, workdir, cluster_spec, finetune_steps, baseline_names,
                          phases=phases)
      if record is None:  # some phases are left to another process
        record = {"family": family, "pending": True}
      else:
        store.put(key, record)
    results.append(record)
    optimize_lib.write_json_atomically(results, os.path.join(workdir, "transfer.json"))
  if out_md:
    costs = (int(pretrain_config.ppo.num_samples), train.evaluations_per_iteration(pretrain_config))
    write_markdown(results, out_md, "python -m experiments.transfer_results " + " ".join(
        shlex.quote(a) for a in argv[1:]), costs)
  return results
