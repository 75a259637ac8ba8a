"""Library behind ``python -m experiments.optimize``: apply a pretrained GO policy to any graph.

:func:`optimize` loads the graph (:func:`go_jax.graph.loading.load_graph`: HLO
text, JSON, PipeDream, GO-JAX format, a workload name) and the cluster (a
preset or JSON file), takes the policy's zero-shot greedy decisions (one
forward pass), optionally fine-tunes for ``finetune_steps`` PPO iterations,
scores GO next to the heuristic baselines with the exact reference simulator
(:func:`go_jax.evaluation.evaluate`) and writes the decisions JSON that
``python -m experiments.simulate --decisions=`` reads (:func:`write_decisions`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from experiments import cli
from experiments import simulate_lib
from go_jax import baselines
from go_jax import errors
from go_jax import evaluation
from go_jax.graph import graph as graph_lib
from go_jax.graph import loading
from go_jax.rl import pretrained as pretrained_lib
import simulator


def log(message: str) -> None:
  """Progress on stderr (stdout carries the table)."""
  print(f"[optimize] {message}", file=sys.stderr, flush=True)


def decisions_to_dict(graph: graph_lib.ComputationGraph, cluster_name: str,
                      decisions: simulator.Decisions, **extra: Any) -> dict[str, Any]:
  """The decisions JSON object: ``placement``/``priority``/``fusion`` lists (node order) plus ``node_names``.

  :func:`experiments.simulate_lib.load_decisions` reads the first three; the
  rest (``graph``, ``cluster``, ``nodes``, ``node_names`` and ``extra``) documents the file.
  """
  return {"graph": graph.name, "cluster": cluster_name, "nodes": graph.num_nodes,
          "node_names": list(graph.node_names),
          "placement": [int(x) for x in np.asarray(decisions.placement)],
          "priority": [float(x) for x in np.asarray(decisions.priority)],
          "fusion": [bool(x) for x in np.asarray(decisions.fusion)], **extra}


def write_json_atomically(obj: Any, path: str) -> None:
  """Writes ``obj`` as JSON to ``path`` atomically; the folder must exist (else an InputError)."""
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise errors.InputError(f"{path}: folder {folder} does not exist")
  cli.write_atomically(json.dumps(obj), path)


def optimize(graph_spec: str, cluster_spec: str | None, checkpoint: str | None = None, finetune_steps: int = 0,
             out: str | None = None, methods: Sequence[str] | None = None, seed: int = 0,
             progress: Callable[[str], None] | None = log) -> dict[str, Any]:
  """Optimizes one graph with a pretrained policy and compares it with the heuristics.

  Args:
    graph_spec: a graph file or workload name.
    cluster_spec: a cluster preset or JSON file (None: the file's own cluster, else ``v100x4``).
    checkpoint: a GO-one or pretraining run directory (None: the shipped policy).
    finetune_steps: PPO iterations of fine-tuning on this graph (0: zero-shot only).
    out: where to write the decisions JSON (None: nowhere).
    methods: baselines to compare with (default :data:`go_jax.baselines.HEURISTICS`).
    seed: seed of fine-tuning and of stochastic baselines.
    progress: one-line progress messages.

  Returns:
    ``graph``, ``nodes``, ``cluster``, ``checkpoint``, ``zero_shot_seconds``
    (wall time of the greedy forward pass, including compilation),
    ``decisions`` (GO's final decisions, :func:`go_jax.evaluation.summarize_decisions`), ``go_step_time`` (s, exact),
    ``best_baseline`` and its ``best_baseline_step_time``,
    ``records`` (one per method, :func:`go_jax.evaluation.evaluate`) and ``out``.

  Raises:
    errors.InputError: bad graph, cluster, checkpoint or output path (one line).
  """
  say = progress or (lambda _: None)
  if finetune_steps < 0:
    raise errors.InputError(f"--finetune_steps must be >= 0, got {finetune_steps}")
  if out is not None and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
    raise errors.InputError(f"--out={out}: folder {os.path.dirname(os.path.abspath(out))} does not exist")
  graph = loading.load_graph(graph_spec)
  cluster = simulate_lib.load_cluster(cluster_spec, graph)
  policy = pretrained_lib.load_policy(checkpoint)
  say(f"{graph.name}: {graph.num_nodes} nodes on {cluster.name}; policy {policy.path} (iteration {policy.step})")
  expert = None
  if not os.path.exists(graph_spec) or graph.meta.get("source_format") == "dnn-partitioning":
    try:
      expert = evaluation.expert_for(graph_spec, graph, cluster.num_devices)
    except (errors.InputError, KeyError, ValueError):
      expert = None
  problem = evaluation.Problem(graph, cluster, seed=seed, expert=expert, checkpoint=checkpoint)

  devices = pretrained_lib.placement_devices(cluster, policy.network)
  start = time.perf_counter()
  decisions = pretrained_lib.zero_shot(policy, graph, cluster)
  zero_shot_seconds = time.perf_counter() - start
  summary = evaluation.summarize_decisions(decisions, devices)  # of GO's final decisions: replaced if fine-tuning runs
  say(f"zero-shot decisions in {zero_shot_seconds:.2f} s (one forward pass, including compilation): "
      f"{evaluation.describe_decisions(summary, graph.num_nodes)}")
  notes = f"zero-shot greedy decisions, {zero_shot_seconds:.2f} s"
  evaluations = 0
  if finetune_steps:
    say(f"fine-tuning for {finetune_steps} PPO iterations")
    result = pretrained_lib.finetune(policy, problem, finetune_steps)
    decisions, evaluations = result.decisions, result.evaluations
    notes = (f"fine-tuned {result.iterations} iterations ({result.evaluations} evaluations); "
             f"{result.chosen} decisions; zero-shot {1e3 * result.zero_shot_step_time:.4g} ms")
    summary = evaluation.summarize_decisions(decisions, devices)
    say(f"fine-tuned decisions: {evaluation.describe_decisions(summary, graph.num_nodes)}")
  names = [m for m in (methods or baselines.HEURISTICS) if m != "expert" or expert is not None]
  go_output = evaluation.MethodOutput(decisions, evaluations=evaluations, notes=notes)
  registry = {**baselines.METHODS, "go": lambda _: go_output}
  records = evaluation.evaluate(problem, registry, ["go"] + names, say)
  for record in records:
    record["cluster"] = cluster.name
  go_record = records[0]
  feasible = [r for r in records[1:] if r["step_time"] is not None and not r["oom"]]
  best = min(feasible, key=lambda r: r["step_time"]) if feasible else None
  if out is not None:
    write_json_atomically(decisions_to_dict(graph, cluster.name, decisions, step_time=go_record["step_time"],
                                            oom=go_record["oom"], method="go", checkpoint=policy.path,
                                            finetune_steps=int(finetune_steps)), out)
    say(f"wrote {out}")
  return {"graph": graph.name, "nodes": graph.num_nodes, "cluster": cluster.name, "checkpoint": policy.path,
          "zero_shot_seconds": zero_shot_seconds, "decisions": summary,
          "go_step_time": go_record["step_time"], "go_oom": go_record["oom"],
          "best_baseline": best["method"] if best else None,
          "best_baseline_step_time": best["step_time"] if best else None, "records": records, "out": out}
