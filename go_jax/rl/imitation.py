"""Imitation warm start of GO-one: clone the best heuristic decisions, then let PPO improve them.

**Why.** From random initial parameters the placement head samples nearly
uniform placements, which cut most edges and are many times slower than one
device. PPO's per-node credit (one scalar advantage shared by thousands of
nodes) then mostly learns "put everything together", and GO-one ends at or
near one device (``docs/go_one_tuning.md``, ``docs/results.md``). The same
holds for the other tasks: from uniform priority levels and coin-flip fusion
requests PPO barely leaves level order and stays behind ``fuse_all``
(``docs/results_joint.md`` before the joint warm start). The search baselines
do not start from nothing either: ``anneal``, ``brkga`` and ``gradient`` start
from the simple heuristics' placements.

**What.** Before the first PPO iteration, :func:`teacher` builds the best
heuristic decisions for the tasks the policy decides, one task after the
other, every candidate scored once with the exact reference simulator (each
score is one simulator evaluation against the budget):

1. placement: the constructive placement heuristics (default: expert, METIS,
   HEFT, m-ETF, contiguous, single device); with fusion also decided, each
   placement is scored under each fusion rule and the best pair is kept (a
   placement that is slow unfused can be the fastest fused);
2. fusion: the requests of ``none``, ``xla_fusion`` or ``fuse_all``;
3. scheduling: ``level_order``, ``critical_path`` or ``fifo`` priorities,
   quantised to the policy's priority levels by rank (:func:`priority_levels`;
   what is scored is the quantised vector, i.e. what the policy can output).

Tasks the policy does not decide keep the problem's default decisions (the
expert placement, level order, no fusion). :func:`imitate` then takes
``steps`` Adam steps on the summed cross-entropy of the decided tasks' heads
against the teacher (teacher forcing through the task chain), minus an
entropy bonus that keeps the clone stochastic enough for PPO to explore
(:func:`imitation_loss`), over real nodes. The policy's own argmax after
cloning is scored (one more evaluation) and becomes GO-one's first "best".
PPO then explores around the clone with the policy's sampling noise; only
decisions the policy produced (samples or argmax) are ever reported, never
the teacher's decisions themselves.

**Consequence for reading results.** A GO-one row with imitation cannot end
worse than what the network reproduces of its teacher; its win over the best
baseline is what PPO adds on top (``TrainResult.teacher`` keeps the teacher's
name and step time, and the results notes show them).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from go_jax import evaluation
from go_jax.baselines import fusion as fusion_lib
from go_jax.baselines import scheduling as scheduling_lib
from go_jax.models import config as model_config
from go_jax.models import policy
from go_jax.rl import iteration
import simulator

#: Scheduling teachers: (N,) float priorities (higher runs earlier) for a placement.
SCHEDULING_TEACHERS = {
    "level_order": scheduling_lib.level_order,
    "critical_path": scheduling_lib.critical_path,
    "fifo": scheduling_lib.tf_fifo,
}
#: Fusion teachers: (N,) bool fusion requests.
FUSION_TEACHERS = {
    "none": fusion_lib.no_fusion,
    "xla_fusion": fusion_lib.xla_fusion,
    "fuse_all": fusion_lib.fuse_all,
}


class Teacher(NamedTuple):
  """The heuristic decisions the policy clones.

  Attributes:
    name: the heuristics cloned, one per decided task in the order placement,
      scheduling, fusion, joined by " + " (e.g. ``"heft + critical_path + fuse_all"``).
    placement: (N,) int32 device per node (the default's where placement is not decided).
    priority: (N,) int32 priority level in ``[0, num_levels)`` (0 everywhere: level order).
    fusion: (N,) bool fusion requests.
    step_time: seconds, exact (reference simulator) for these decisions.
    oom: whether they run out of memory.
    evaluations: simulator evaluations spent choosing them: one per candidate scored, plus
      whatever the placement candidates' own methods spent (0 for constructive heuristics).
  """

  name: str
  placement: np.ndarray
  priority: np.ndarray
  fusion: np.ndarray
  step_time: float
  oom: bool
  evaluations: int


def priority_levels(priority: np.ndarray, num_levels: int) -> np.ndarray:
  """(N,) int32 levels in ``[0, num_levels)`` from real priorities (higher runs earlier), by rank.

  ``level[i] = floor(num_levels * r_i / N)`` with ``r_i`` the number of nodes of
  strictly lower priority, so the order of priorities is kept (ties stay tied)
  and each level holds about ``N / num_levels`` nodes. Equal priorities map to
  level 0 everywhere (level order).
  """
  priority = np.asarray(priority)
  n = priority.shape[0]
  rank = np.searchsorted(np.sort(priority), priority, side="left")
  return np.minimum(rank * num_levels // max(n, 1), num_levels - 1).astype(np.int32)


def _check_names(kind: str, names: Sequence[str], known: Sequence[str]) -> None:
  unknown = [n for n in names if n not in known]
  if unknown:
    raise ValueError(f"unknown imitation {kind}(s) {', '.join(unknown)} (known: {', '.join(known)})")
  if not names:
    raise ValueError(f"no imitation {kind}s given")


def _placement_candidates(problem: evaluation.Problem, names: Sequence[str],
                          num_devices: int) -> tuple[dict[str, np.ndarray], int]:
  """The usable placement heuristics among ``names``: {name: (N,) placement}, their own evaluations."""
  from go_jax import baselines  # the registry imports GO's methods, which import this module

  _check_names("teacher", names, list(baselines.METHODS))
  candidates, evaluations = {}, 0
  for name in names:
    try:
      output = baselines.METHODS[name](problem)
    except evaluation.MethodUnavailable:
      continue
    placement = np.asarray(output.decisions.placement, np.int32)
    if placement.max(initial=0) >= num_devices:
      continue
    candidates[name] = placement
    evaluations += int(output.evaluations)
  if not candidates:
    raise ValueError(f"no usable imitation teacher among {', '.join(names)}")
  return candidates, evaluations


def teacher(problem: evaluation.Problem, names: Sequence[str], num_devices: int,
            tasks: Sequence[str] = ("placement",), num_levels: int = 8,
            scheduling_names: Sequence[str] = tuple(SCHEDULING_TEACHERS),
            fusion_names: Sequence[str] = tuple(FUSION_TEACHERS)) -> Teacher:
  """The best heuristic decisions for ``tasks`` on ``problem`` (module docstring; exactly scored).

  Args:
    problem: the graph, cluster and default decisions.
    names: placement heuristics (:data:`go_jax.baselines.METHODS` names); heuristics
      that cannot run here (e.g. ``expert`` without an expert placement) or that
      place on devices beyond ``num_devices`` are skipped. Read only with placement in ``tasks``.
    num_devices: devices the placement may use.
    tasks: the tasks the policy decides; the others keep ``problem.default_decisions()``.
    num_levels: the policy's priority levels.
    scheduling_names: keys of :data:`SCHEDULING_TEACHERS` (read with scheduling in ``tasks``).
    fusion_names: keys of :data:`FUSION_TEACHERS` (read with fusion in ``tasks``).

  Candidates rank feasible before OOM, then by step time, then by name.

  Raises:
    ValueError: an unknown name, or no usable placement heuristic (config errors).
  """
  graph, cluster = problem.graph, problem.cluster
  base = problem.default_decisions()
  level_order = np.zeros(graph.num_nodes, np.int32)
  if "placement" in tasks:
    placements, evaluations = _placement_candidates(problem, names, num_devices)
  else:
    placements, evaluations = {"": np.asarray(base.placement, np.int32)}, 0
  if "fusion" in tasks:
    _check_names("fusion teacher", fusion_names, list(FUSION_TEACHERS))
    fusions = {name: np.asarray(FUSION_TEACHERS[name](graph), bool) for name in fusion_names}
  else:
    fusions = {"": np.asarray(base.fusion, bool)}

  def score(placement, levels, requests):
    return evaluation.exact_cost(graph, cluster, simulator.Decisions(placement, levels.astype(np.float32), requests))

  scored = []
  for placement_name, placement in placements.items():
    for fusion_name, requests in fusions.items():
      scored.append((*score(placement, level_order, requests), placement_name, fusion_name))
  evaluations += len(scored)
  oom, step_time, placement_name, fusion_name = min(scored)
  placement, requests = placements[placement_name], fusions[fusion_name]
  levels, scheduling_name = level_order, ""
  if "scheduling" in tasks:
    _check_names("scheduling teacher", scheduling_names, list(SCHEDULING_TEACHERS))
    best = (oom, step_time, "level_order")
    for name in scheduling_names:
      if name == "level_order":
        continue  # already scored
      candidate = priority_levels(SCHEDULING_TEACHERS[name](graph, cluster, placement), num_levels)
      evaluations += 1
      outcome = (*score(placement, candidate, requests), name)
      if outcome < best:
        best, levels = outcome, candidate
    oom, step_time, scheduling_name = best
  parts = [part for part in (placement_name, scheduling_name, fusion_name) if part]
  return Teacher(name=" + ".join(parts), placement=placement, priority=levels, fusion=requests,
                 step_time=step_time, oom=oom, evaluations=evaluations)


def imitation_loss(params: Any, network: policy.PolicyNetwork, batch: iteration.GraphBatch,
                   target: policy.Decisions, entropy_weight: float = 0.0
                   ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Cross-entropy (nats per real node, summed over the decided tasks) against ``target``, minus an entropy bonus.

  ``loss = sum_tasks mean_i [-log p_i(target_i) - entropy_weight * H_i]`` over
  real nodes, the actions of every task fed the teacher's actions of the
  tasks before it (teacher forcing). Without the bonus the clone becomes
  nearly deterministic and PPO's samples stop exploring; with it each node
  keeps a probability of leaving its teacher's choice that grows with
  ``entropy_weight`` (for two devices, about 3% at 0.3 and 10% at 0.5).

  Args:
    params: policy parameters.
    network: the policy.
    batch: G graphs (:class:`go_jax.rl.iteration.GraphBatch`).
    target: (G, Np) int32 teacher actions per field (placement device, priority
      level, fusion 0/1; any value at padding; fields of undecided tasks are ignored).
    entropy_weight: weight of the summed mean per-node entropies (nats).

  Returns:
    ``(loss, metrics)`` with () ``imitation_loss`` (the summed cross-entropy alone),
    ``imitation_entropy`` (summed nats per real node) and ``imitation_accuracy``
    (fraction of real (node, task) pairs whose most likely action is the
    target; from the same forward pass, so it describes the parameters before the step).
  """
  actions = jax.tree.map(lambda x: jnp.asarray(x, jnp.int32)[:, None], target)
  output = policy.evaluate_graphs(network, params, batch.graphs, batch.num_devices, actions)
  mask = batch.node_mask.astype(jnp.float32)
  num_real = jnp.maximum(mask.sum(), 1.0)
  tasks = [task for task in model_config.ALL_TASKS if task in network.tasks]
  cross_entropy = entropy = accuracy = 0.0
  for task in tasks:
    log_prob = policy.task_field(output.log_prob, task)[:, 0]  # (G, Np)
    cross_entropy += -(log_prob * mask).sum() / num_real
    entropy += (policy.task_field(output.entropy, task)[:, 0] * mask).sum() / num_real
    # The target is the argmax when its probability exceeds 1/2, a cheap sufficient test;
    # the exact argmax is measured after training by scoring the greedy decisions.
    accuracy += ((log_prob > jnp.log(0.5)) * mask).sum() / num_real / len(tasks)
  metrics = {"imitation_loss": cross_entropy, "imitation_entropy": entropy, "imitation_accuracy": accuracy}
  return cross_entropy - entropy_weight * entropy, metrics


def padded_target(teachers: Teacher | Sequence[Teacher], node_mask: np.ndarray) -> policy.Decisions:
  """The teachers' actions for :func:`imitate` and :func:`fit`, as (G, Np) int32 fields (0 at padding).

  Args:
    teachers: one teacher per graph of the batch (a single teacher for a one-graph batch),
      graph ``g``'s over its N_g nodes.
    node_mask: (G, Np) bool, the batch's real nodes (the first N_g of row ``g``).
  """
  if isinstance(teachers, Teacher):
    teachers = [teachers]
  if len(teachers) != node_mask.shape[0]:
    raise ValueError(f"{len(teachers)} teachers for a batch of {node_mask.shape[0]} graphs")

  def pad(field):
    out = np.zeros(node_mask.shape, np.int32)
    for row, teacher_ in enumerate(teachers):
      values = getattr(teacher_, field)
      out[row, :values.shape[0]] = values
    return out

  return policy.Decisions(placement=pad("placement"), priority=pad("priority"), fusion=pad("fusion"))


def fit(params: Any, opt_state: Any, optimizer: optax.GradientTransformation, batch: iteration.GraphBatch,
        target: policy.Decisions, *, network: policy.PolicyNetwork, steps: int,
        entropy_weight: float | jax.Array = 0.0) -> tuple[Any, Any, dict[str, jax.Array]]:
  """``steps`` ``optimizer`` steps on :func:`imitation_loss` (one ``lax.scan``; call it under jit).

  Returns:
    The new parameters and optimizer state, and (steps,) metrics of :func:`imitation_loss`.
  """

  def step(carry, _):
    params, opt_state = carry
    grads, metrics = jax.grad(imitation_loss, has_aux=True)(params, network, batch, target,
                                                            entropy_weight)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), metrics

  (params, opt_state), metrics = jax.lax.scan(step, (params, opt_state), None, length=steps)
  return params, opt_state, metrics


@functools.partial(jax.jit, static_argnames=("network", "steps", "learning_rate", "max_grad_norm"))
def imitate(params: Any, batch: iteration.GraphBatch, target: policy.Decisions, *, network: policy.PolicyNetwork,
            steps: int, learning_rate: float, max_grad_norm: float,
            entropy_weight: float | jax.Array = 0.0) -> tuple[Any, dict[str, jax.Array]]:
  """``steps`` steps of a fresh Adam on :func:`imitation_loss`; returns params and (steps,) metrics.

  ``target``: (G, Np) teacher actions per field (see :func:`imitation_loss`); :func:`padded_target`
  makes it from a :class:`Teacher`.
  """
  optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))
  params, _, metrics = fit(params, optimizer.init(params), optimizer, batch, target, network=network,
                           steps=steps, entropy_weight=entropy_weight)
  return params, metrics
