"""GO-one training: the host loop around :func:`go_jax.rl.iteration.train_iteration`.

:func:`train` trains on one graph until ``num_iterations``, the simulator
``budget`` or ``patience`` (iterations without a better decision vector) runs
out, and returns the best decisions found (re-scored exactly with
:func:`simulator.simulate_reference`) and the policy's greedy decisions.
:func:`train_and_evaluate` adds the I/O of a run directory:

  workdir/config.json        the config (a policy can be rebuilt from disk alone)
  workdir/checkpoints/<step> orbax checkpoints of the whole TrainState
                             (params, optimizer state, RNG, step, best decisions)
  workdir/metrics.jsonl      one line of metrics per iteration
  workdir/tb/                TensorBoard event files (tensorboardX)
  workdir/learning_curve.png the learning curve (matplotlib, Agg)
  workdir/results.json       GO-one next to the baselines, exact simulator
                             (the launcher adds the table as results.txt)

A workdir that already holds checkpoints resumes from the latest one; since
the TrainState carries the RNG, an interrupted and resumed run equals an
uninterrupted one with the same seed. Progress leaves through
``progress_fn(step, metrics)``; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable

from absl import logging
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from go_jax import errors
from go_jax import evaluation
from go_jax.graph import loading
from go_jax.models import config as model_config_lib
from go_jax.models import policy
from go_jax.rl import config as rl_config
from go_jax.rl import imitation
from go_jax.rl import iteration
from go_jax.rl import losses
from go_jax.rl import pathwise
from go_jax.rl import rewards
from go_jax.rl import toy_graphs
import simulator
from simulator import cluster as cluster_lib

ProgressFn = Callable[[int, dict[str, float]], None]

#: Config fields that may change when a run resumes (they do not change what one iteration does).
_RESUMABLE_FIELDS = ("num_iterations", "budget", "patience", "checkpoint_every", "max_checkpoints",
                     "baselines", "baseline_budget")


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """What :func:`train` found.

  Attributes:
    best: (N,) decisions, the best sampled vector (exact re-score below).
    best_step_time: seconds, exact step time of ``best``.
    best_oom: whether ``best`` runs out of memory.
    greedy: (N,) decisions, the policy's argmax.
    greedy_step_time: seconds, exact step time of ``greedy``.
    greedy_oom: whether ``greedy`` runs out of memory.
    reference_step_time: seconds, :func:`go_jax.rl.rewards.reference_step_time`.
    reference_name: which heuristic gave the reference.
    evaluations: simulator evaluations spent: the imitation teacher's, sampled vectors,
      argmaxes scored, and relaxed steps (:mod:`go_jax.rl.pathwise`), one each.
    iterations: PPO iterations done.
    seconds: wall-clock of this :func:`train` call (s): set-up, compilation,
      iterations and the exact re-scoring, i.e. GO-one's search time.
    state: the final TrainState.
    history: per-iteration metrics of this process's iterations.
    teacher: the heuristic the policy cloned before PPO (:mod:`go_jax.rl.imitation`),
      None without imitation or when this process resumed after it.
  """

  best: simulator.Decisions
  best_step_time: float
  best_oom: bool
  greedy: simulator.Decisions
  greedy_step_time: float
  greedy_oom: bool
  reference_step_time: float
  reference_name: str
  evaluations: int
  iterations: int
  seconds: float
  state: iteration.TrainState
  history: list[dict[str, float]]
  teacher: imitation.Teacher | None = None


def format_progress(step: int, metrics: dict[str, float], total: int | None = None) -> str:
  """One progress line of an iteration (the launchers print it on stderr).

  Args:
    step: iterations done.
    metrics: the metrics ``progress_fn`` receives (``eta_s`` once known).
    total: iterations planned, if known (shown as ``it 12/100``).
  """
  eta = f"{metrics['eta_s']:5.0f}s" if "eta_s" in metrics else "    ?"
  count = f"{step:4d}/{total}" if total else f"{step:5d}"
  return (f"[train] it {count}  evals {metrics['evaluations']:7.0f}  "
          f"sampled {1e3 * metrics['step_time_mean']:.4g} ms  best {1e3 * metrics['best_step_time']:.4g} ms  "
          f"(reference {1e3 * metrics['reference_step_time']:.4g} ms)  H {metrics['entropy']:.3f}  "
          f"kl {metrics['approx_kl']:.4f}  {metrics.get('iterations_per_s', 0.0):.2f} it/s  "
          f"elapsed {metrics['wall_s']:4.0f}s  ETA {eta}")


def evaluations_per_iteration(config: ml_collections.ConfigDict) -> int:
  """Simulator evaluations one GO-one iteration of ``config`` spends: its sampled vectors, plus the
  relaxed steps and the argmax's exact score when pathwise descent is on (:mod:`go_jax.rl.pathwise`)."""
  steps = _relaxed_steps(config)
  return int(config.ppo.num_samples) + (steps + 1 if steps > 0 else 0)


def _relaxed_steps(config: ml_collections.ConfigDict) -> int:
  """Relaxed Adam steps per iteration: ``pathwise.steps``, 0 without the section or the placement task."""
  return int(config.pathwise.steps) if "pathwise" in config and "placement" in tasks_of(config) else 0


def planned_iterations(config: ml_collections.ConfigDict, budget: int | None = None) -> int:
  """Iterations a fresh run of ``config`` does at most (``num_iterations`` and the evaluation budget)."""
  budget = int(config.budget if budget is None else budget)
  return min(int(config.num_iterations), budget // evaluations_per_iteration(config))


def tasks_of(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The enabled tasks, validated, in the policy's order."""
  tasks = tuple(rl_config.names(config.tasks))
  unknown = sorted(set(tasks) - set(model_config_lib.ALL_TASKS))
  if unknown or not tasks:
    raise errors.InputError(f"--config.tasks: unknown or empty {unknown or tasks} "
                            f"(valid: {','.join(model_config_lib.ALL_TASKS)})")
  return tuple(t for t in model_config_lib.ALL_TASKS if t in tasks)


def make_network(config: ml_collections.ConfigDict) -> policy.PolicyNetwork:
  """The policy network of ``config.model`` with ``config.tasks``."""
  model = ml_collections.ConfigDict(config.model.to_dict())
  model.tasks = tasks_of(config)
  return policy.make_policy(model)


def iteration_config(config: ml_collections.ConfigDict) -> iteration.IterationConfig:
  """The static :class:`go_jax.rl.iteration.IterationConfig` of ``config`` (derived, not mutated)."""
  ppo = config.ppo
  return iteration.IterationConfig(
      num_samples=int(ppo.num_samples), num_epochs=int(ppo.num_epochs),
      num_minibatches=int(ppo.num_minibatches), baseline=str(ppo.baseline),
      entropy_start=float(ppo.entropy_start), entropy_end=float(ppo.entropy_end),
      entropy_decay_iterations=int(ppo.entropy_decay_iterations),
      learning_rate=float(ppo.learning_rate), max_grad_norm=float(ppo.max_grad_norm),
      loss=losses.LossConfig(clip_epsilon=float(ppo.clip_epsilon), value_coef=float(ppo.value_coef),
                             normalize_advantages=bool(ppo.normalize_advantages)),
      canonical_devices=bool(ppo.get("canonical_devices", False)),  # absent from older runs' config.json
      reward=rewards.RewardConfig(oom_factor=float(config.reward.oom_factor),
                                  overflow_weight=float(config.reward.overflow_weight)))


def pathwise_config(config: ml_collections.ConfigDict, budget: int | None = None) -> pathwise.PathwiseConfig:
  """The static :class:`go_jax.rl.pathwise.PathwiseConfig` of ``config``.

  Off when ``config`` has no ``pathwise`` section or placement is not among its
  tasks (the relaxed simulator differentiates placement only). ``anneal_iterations
  = 0`` anneals over the iterations a fresh run can do: ``num_iterations`` or what
  ``budget`` (default ``config.budget``) buys, whichever is fewer.
  """
  if not _relaxed_steps(config):
    return pathwise.PathwiseConfig()
  section = config.pathwise
  anneal = int(section.anneal_iterations)
  if anneal < 0:
    raise errors.InputError(f"--config.pathwise.anneal_iterations must be >= 0 (0: over the run's planned "
                            f"iterations), got {anneal}")
  if anneal == 0:
    anneal = max(1, planned_iterations(config, budget))
  return pathwise.PathwiseConfig(steps=int(section.steps), start_smoothing=float(section.start_smoothing),
                                 end_smoothing=float(section.end_smoothing), anneal_iterations=anneal)


def load_problem(config: ml_collections.ConfigDict) -> evaluation.Problem:
  """The graph, cluster and expert placement named by ``config.graph``/``cluster``/``devices``."""
  spec = str(config.graph)
  if spec in toy_graphs.TOY_GRAPHS:
    graph, expert_spec = toy_graphs.TOY_GRAPHS[spec](), None
  else:
    graph, expert_spec = loading.load_graph(spec), spec
  if not config.cluster and "max_accelerators" in graph.meta:  # a dnn-partitioning file's own cluster
    cluster = cluster_lib.for_dnn_partitioning(graph.meta)
  else:
    cluster = cluster_lib.get_cluster(config.cluster or "v100x4", config.devices or None)
  expert = None
  if expert_spec is not None:
    try:
      expert = evaluation.expert_for(expert_spec, graph, cluster.num_devices)
    except (errors.InputError, KeyError, ValueError) as e:
      logging.warning("no expert placement for %s: %s", spec, e)
  return evaluation.Problem(graph, cluster, budget=int(config.baseline_budget), seed=int(config.seed),
                            expert=expert)


def _placement_devices(problem: evaluation.Problem, network: policy.PolicyNetwork) -> int:
  devices = problem.placement_cluster.num_devices
  if devices > network.max_devices:
    logging.warning("cluster has %d devices but the policy places on at most %d", devices, network.max_devices)
  return min(devices, network.max_devices)


def _unpad(decisions: simulator.Decisions, num_nodes: int) -> simulator.Decisions:
  """Row 0 of (G, Np) decisions, cut to (N,) numpy arrays."""
  return simulator.Decisions(*(np.asarray(x[0][:num_nodes]) for x in decisions))


def _abstract(state: iteration.TrainState):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)


def _warm_start(config: ml_collections.ConfigDict, problem: evaluation.Problem, network: policy.PolicyNetwork,
                it_config: iteration.IterationConfig, batch: iteration.GraphBatch, state: iteration.TrainState,
                num_devices: int) -> tuple[iteration.TrainState, imitation.Teacher]:
  """Clones the best heuristic decisions for the policy's tasks into ``state.params``; scores the clone's argmax."""
  names = lambda field, default: rl_config.names(config.imitation.get(field, default))  # noqa: E731
  teacher = imitation.teacher(
      problem, names("teachers", ""), num_devices, tasks=network.tasks, num_levels=network.num_priority_levels,
      scheduling_names=names("scheduling_teachers", ",".join(imitation.SCHEDULING_TEACHERS)),
      fusion_names=names("fusion_teachers", ",".join(imitation.FUSION_TEACHERS)))
  target = imitation.padded_target(teacher, np.asarray(batch.node_mask))
  params, metrics = imitation.imitate(state.params, batch, target, network=network,
                                      steps=int(config.imitation.steps),
                                      learning_rate=float(config.imitation.learning_rate),
                                      max_grad_norm=it_config.max_grad_norm,
                                      entropy_weight=float(config.imitation.entropy))
  state = state.replace(params=params, opt_state=iteration.make_optimizer(it_config).init(params),
                        evaluations=state.evaluations + teacher.evaluations)
  state = iteration.record_best(state, batch, iteration.greedy_decisions(params, batch, network))
  logging.info("imitation: cloned %s (%.4g ms%s) in %d steps: cross-entropy %.3g, entropy %.3g nats, "
               "(node, task) pairs above p=0.5 %.1f%%; the clone's argmax: %.4g ms", teacher.name,
               teacher.step_time * 1e3,
               ", OOM" if teacher.oom else "", int(config.imitation.steps),
               float(metrics["imitation_loss"][-1]), float(metrics["imitation_entropy"][-1]),
               100 * float(metrics["imitation_accuracy"][-1]),
               float(state.best_step_time[0]) * 1e3)
  return state, teacher


def train(config: ml_collections.ConfigDict, problem: evaluation.Problem, budget: int | None = None,
          checkpoints: ocp.CheckpointManager | None = None, progress_fn: ProgressFn | None = None
          ) -> TrainResult:
  """Trains GO-one on ``problem.graph`` (module docstring).

  Args:
    config: a config of :func:`go_jax.rl.config.get_default_config`.
    problem: the graph, cluster and (optional) expert placement.
    budget: simulator evaluations training may spend (default ``config.budget``);
      an iteration runs only if all its ``num_samples`` vectors fit.
    checkpoints: restore the latest checkpoint from it and save into it, if given.
    progress_fn: called after every iteration with the step and () float metrics
      (plus ``wall_s``, and from the second iteration on ``iterations_per_s``
      and ``eta_s``, measured after the first iteration, which includes compilation).

  Returns:
    The :class:`TrainResult`.
  """
  entered = time.perf_counter()
  graph, cluster = problem.graph, problem.cluster
  network = make_network(config)
  it_config = iteration_config(config)
  num_devices = _placement_devices(problem, network)
  reference, reference_name, memory = rewards.reference(graph, cluster, num_devices, problem.expert)
  # Tasks GO does not decide keep the default: the expert placement, level order, no fusion.
  batch = iteration.make_graph_batch([graph], cluster, num_devices, [reference], base=[problem.default_decisions()],
                                     canonical_devices=it_config.canonical_devices,
                                     memory_needs=[memory])
  state = iteration.init_state(network, it_config, batch, int(config.seed))
  teacher = None
  if checkpoints is not None and checkpoints.latest_step() is not None:
    step = checkpoints.latest_step()
    state = checkpoints.restore(step, args=ocp.args.StandardRestore(_abstract(state)))
    logging.info("resumed from checkpoint at iteration %d", step)
  elif "imitation" in config and int(config.imitation.steps) > 0:
    state, teacher = _warm_start(config, problem, network, it_config, batch, state, num_devices)
  budget = int(config.budget if budget is None else budget)
  relaxed = pathwise_config(config, budget)  # a resumed run anneals over the same iterations as a fresh one
  surrogate = None
  if relaxed.steps > 0:  # calibrated on the best decisions so far (single device before any)
    surrogate = pathwise.surrogate_data(problem, _unpad(state.best_decisions, graph.num_nodes).placement)
    state = state.replace(evaluations=state.evaluations + 1)
  per_iteration = evaluations_per_iteration(config)
  last_iteration = min(int(config.num_iterations), int(state.step) + max(
      0, (budget - int(state.evaluations)) // per_iteration))
  history = []
  start, first_step = time.perf_counter(), int(state.step)
  compiled_at = start
  while int(state.step) < last_iteration:
    if config.patience and int(state.step) - int(state.best_iteration) >= config.patience:
      logging.info("converged: no better decisions for %d iterations", config.patience)
      break
    relaxed_metrics = {}
    if surrogate is not None:
      state, relaxed_metrics = pathwise.descend(state, batch, surrogate, network=network, config=relaxed,
                                                it_config=it_config)
    state, metrics = iteration.train_iteration(state, batch, network=network, config=it_config)
    step = int(state.step)
    metrics = {name: float(value) for name, value in jax.device_get({**metrics, **relaxed_metrics}).items()}
    now = time.perf_counter()
    wall = now - start
    if step == first_step + 1:  # the first iteration includes compilation: rates start after it
      compiled_at = now
    rate = (step - first_step - 1) / (now - compiled_at) if step > first_step + 1 else 0.0
    metrics.update(wall_s=wall, reference_step_time=reference)
    if rate > 0:  # unknown until two iterations ran
      metrics.update(iterations_per_s=rate, eta_s=(last_iteration - step) / rate)
    history.append({"step": step, **metrics})
    if progress_fn is not None:
      progress_fn(step, metrics)
    if checkpoints is not None and (step % int(config.checkpoint_every) == 0 or step == last_iteration):
      checkpoints.save(step, args=ocp.args.StandardSave(state))
  if checkpoints is not None and int(state.step) not in checkpoints.all_steps():
    checkpoints.save(int(state.step), args=ocp.args.StandardSave(state))
  if checkpoints is not None:
    checkpoints.wait_until_finished()

  best = _unpad(state.best_decisions, graph.num_nodes)
  if not np.isfinite(float(state.best_step_time[0])):  # no iteration ran: fall back to single device
    best = simulator.default_decisions(graph.num_nodes)
  greedy = _unpad(iteration.greedy_decisions(state.params, batch, network), graph.num_nodes)
  best_oom, best_time = evaluation.exact_cost(graph, cluster, best)
  greedy_oom, greedy_time = evaluation.exact_cost(graph, cluster, greedy)
  return TrainResult(best=best, best_step_time=best_time, best_oom=best_oom, greedy=greedy,
                     greedy_step_time=greedy_time, greedy_oom=greedy_oom, reference_step_time=reference,
                     reference_name=reference_name, evaluations=int(state.evaluations),
                     iterations=int(state.step), seconds=time.perf_counter() - entered, state=state,
                     history=history, teacher=teacher)


# ---------------------------------------------------------------------------
# Run directory: config, checkpoints, metrics, plot, results table.
# ---------------------------------------------------------------------------


def check_config(config: ml_collections.ConfigDict, path: str,
                 resumable: tuple[str, ...] = _RESUMABLE_FIELDS) -> None:
  """Writes config.json atomically, or checks that a resumed run's config matches it.

  Fields in ``resumable`` may differ (they do not change what one iteration
  does), and so may options added later while they are off
  (:func:`go_jax.rl.config.effective`); any other difference is an
  InputError naming the fields.
  """
  current = json.loads(config.to_json())
  if os.path.exists(path):
    with open(path) as f:
      saved = rl_config.effective(json.load(f))
    compared = rl_config.effective(current)
    changed = sorted(k for k in set(saved) | set(compared)
                     if k not in resumable and saved.get(k) != compared.get(k))
    if changed:
      raise errors.InputError(f"{path}: the run in this workdir used a different config for "
                              f"{', '.join(changed)}; use a new --workdir")
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(current, f, indent=1, sort_keys=True)
  os.replace(tmp, path)


def read_metrics(path: str, up_to_step: int) -> list[dict[str, Any]]:
  """The lines of metrics.jsonl up to ``up_to_step`` (later ones were never checkpointed)."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  return [r for r in rows if r["step"] <= up_to_step]


class MetricsWriter:
  """Writes every iteration's metrics to metrics.jsonl and TensorBoard; wraps ``progress_fn``."""

  def __init__(self, workdir: str, previous: list[dict[str, Any]], progress_fn: ProgressFn | None):
    import tensorboardX  # pylint: disable=g-import-not-at-top
    self._path = os.path.join(workdir, "metrics.jsonl")
    with open(self._path, "w") as f:  # rewritten without lines past the restored checkpoint
      for row in previous:
        f.write(json.dumps(row) + "\n")
    self.previous_wall_s = previous[-1]["wall_s"] if previous else 0.0  # earlier processes of a resumed run
    self._tb = tensorboardX.SummaryWriter(os.path.join(workdir, "tb"))
    self._progress_fn = progress_fn
    self.rows = list(previous)

  def __call__(self, step: int, metrics: dict[str, float]) -> None:
    row = {"step": step, **metrics, "wall_s": metrics["wall_s"] + self.previous_wall_s}
    self.rows.append(row)
    with open(self._path, "a") as f:
      f.write(json.dumps(row) + "\n")
    for name, value in row.items():
      if name != "step":
        self._tb.add_scalar(name, value, step)
    if self._progress_fn is not None:
      self._progress_fn(step, row)

  def close(self) -> None:
    self._tb.close()


def plot_learning_curve(rows: list[dict[str, Any]], path: str, title: str,
                        lines: dict[str, float] | None = None) -> None:
  """Saves a PNG: step times (ms) and reward/entropy against simulator evaluations."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(7, 6), sharex=True)
  evals = [r["evaluations"] for r in rows]
  top.plot(evals, [1e3 * r["step_time_mean"] for r in rows], label="sampled (mean)", alpha=0.7)
  top.plot(evals, [1e3 * r["best_step_time"] for r in rows], label="best so far")
  for name, seconds in (lines or {}).items():
    top.axhline(1e3 * seconds, linestyle="--", linewidth=1, label=name, color=None)
  top.set_ylabel("step time (ms)")
  top.set_title(title)
  top.legend(fontsize="small")
  bottom.plot(evals, [r["reward_mean"] for r in rows], label="mean reward")
  bottom.set_ylabel("reward")
  twin = bottom.twinx()
  twin.plot(evals, [r["entropy"] for r in rows], color="tab:orange", label="entropy (nats/node)")
  twin.set_ylabel("entropy", color="tab:orange")
  bottom.set_xlabel("simulator evaluations")
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  pyplot.close(figure)


def describe(result: TrainResult) -> str:
  """One line on how GO-one found its decisions (the results tables' note)."""
  note = f"{result.iterations} PPO iterations, {result.evaluations} simulator evaluations"
  if result.teacher is not None:
    note += f"; warm start: cloned {result.teacher.name} ({result.teacher.step_time * 1e3:.4g} ms), PPO from there"
  return note


def results_table(problem: evaluation.Problem, result: TrainResult, baseline_names: list[str],
                  progress: Callable[[str], None] | None = None,
                  search_seconds: float | None = None) -> list[dict[str, Any]]:
  """Scores the baselines and GO-one (best sampled, greedy) with the exact simulator.

  GO-one's rows report ``search_seconds`` = the training wall-clock
  (``search_seconds``, default ``result.seconds``), not the time to look up
  decisions already found.
  """
  from go_jax import baselines  # pylint: disable=g-import-not-at-top
  methods = dict(baselines.METHODS)
  methods["go_one"] = lambda _: evaluation.MethodOutput(
      result.best, evaluations=result.evaluations,
      notes=describe(result))
  methods["go_one_greedy"] = lambda _: evaluation.MethodOutput(
      result.greedy, evaluations=result.evaluations, notes="the trained policy's argmax decisions")
  names = [n for n in baseline_names if n != "expert" or problem.expert is not None]
  records = evaluation.evaluate(problem, methods, names + ["go_one", "go_one_greedy"], progress)
  trained = result.seconds if search_seconds is None else search_seconds
  for record in records:
    record["cluster"] = problem.cluster.name
    if record["method"] in ("go_one", "go_one_greedy"):
      record["search_seconds"] = trained
  return records


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       progress_fn: ProgressFn | None = None) -> dict[str, Any]:
  """Trains GO-one in ``workdir`` (resuming it if it has checkpoints) and writes the results.

  Returns:
    A summary: ``iterations``, ``evaluations``, ``reference_step_time``,
    ``best_step_time``, ``greedy_step_time`` (s, exact) and ``records`` (the
    results table rows, as :func:`go_jax.evaluation.evaluate` returns them).
  """
  workdir = os.path.abspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  check_config(config, os.path.join(workdir, "config.json"))
  problem = load_problem(config)
  checkpoints = ocp.CheckpointManager(
      os.path.join(workdir, "checkpoints"),
      options=ocp.CheckpointManagerOptions(max_to_keep=int(config.max_checkpoints),
                                           enable_async_checkpointing=False))
  restored = checkpoints.latest_step() or 0
  writer = MetricsWriter(workdir, read_metrics(os.path.join(workdir, "metrics.jsonl"), restored), progress_fn)
  try:
    result = train(config, problem, checkpoints=checkpoints, progress_fn=writer)
  finally:
    writer.close()
    checkpoints.close()
  if writer.rows:
    plot_learning_curve(writer.rows, os.path.join(workdir, "learning_curve.png"),
                        f"GO-one on {problem.graph.name} / {problem.cluster.name}",
                        {f"reference ({result.reference_name})": result.reference_step_time})
  baseline_names = rl_config.names(config.baselines)
  records = results_table(problem, result, baseline_names,
                          search_seconds=writer.previous_wall_s + result.seconds)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(records, f, indent=1)
  return {"iterations": result.iterations, "evaluations": result.evaluations,
          "reference_step_time": result.reference_step_time, "best_step_time": result.best_step_time,
          "greedy_step_time": result.greedy_step_time, "records": records}
