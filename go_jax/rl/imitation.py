"""Imitation warm start of GO-one: clone the best heuristic placement, then let PPO improve it.

**Why.** From random initial parameters the placement head samples nearly
uniform placements, which cut most edges and are many times slower than one
device. PPO's per-node credit (one scalar advantage shared by thousands of
nodes) then mostly learns "put everything together", and GO-one ends at or
near one device (``docs/go_one_tuning.md``, ``docs/results.md``). The search
baselines do not start from nothing either: ``anneal``, ``brkga`` and
``gradient`` start from the simple heuristics' placements.

**What.** Before the first PPO iteration, :func:`teacher` runs a list of
constructive placement heuristics (default: expert, METIS, HEFT, m-ETF,
contiguous, single device), scores each once with the exact reference
simulator (each score counts as one simulator evaluation against the
budget) and keeps the best. :func:`imitate` then takes ``steps`` Adam steps on
the cross-entropy of the policy's placement head against that placement,
minus an entropy bonus that keeps the clone stochastic enough for PPO to
explore (:func:`imitation_loss`), over real nodes. The policy's own argmax after
cloning is scored (one more evaluation) and becomes GO-one's first "best".
PPO then explores around the cloned placement with the policy's sampling
noise; only decisions the policy produced (samples or argmax) are ever
reported, never the teacher's placement itself.

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
from go_jax.models import policy
from go_jax.rl import iteration
import simulator


class Teacher(NamedTuple):
  """The heuristic placement the policy clones.

  Attributes:
    name: the heuristic's method name.
    placement: (N,) int32 device per node.
    step_time: seconds, exact (reference simulator, default priorities, no fusion).
    oom: whether it runs out of memory.
    evaluations: simulator evaluations spent choosing it: one per candidate scored, plus
      whatever the candidates' own methods spent (0 for constructive heuristics).
  """

  name: str
  placement: np.ndarray
  step_time: float
  oom: bool
  evaluations: int


def teacher(problem: evaluation.Problem, names: Sequence[str], num_devices: int) -> Teacher:
  """The best of the constructive placement heuristics ``names`` on ``problem`` (exactly scored).

  Heuristics that cannot run here (e.g. ``expert`` without an expert
  placement) or that place on devices beyond ``num_devices`` are skipped;
  feasible placements rank before OOM ones, then by step time. Raises
  ``ValueError`` when none of ``names`` is usable (a config error).
  """
  from go_jax import baselines  # the registry imports GO's methods, which import this module

  unknown = [n for n in names if n not in baselines.METHODS]
  if unknown:
    raise ValueError(f"unknown imitation teacher(s) {', '.join(unknown)} (known: {', '.join(baselines.METHODS)})")
  scored = []
  evaluations = 0
  for name in names:
    try:
      output = baselines.METHODS[name](problem)
    except evaluation.MethodUnavailable:
      continue
    placement = np.asarray(output.decisions.placement, np.int32)
    if placement.max(initial=0) >= num_devices:
      continue
    decisions = simulator.default_decisions(problem.graph.num_nodes, placement)
    result, _ = simulator.simulate_reference(problem.graph, problem.cluster, decisions)
    evaluations += 1 + int(output.evaluations)
    scored.append((bool(np.any(result.oom)), float(result.step_time), name, placement))
  if not scored:
    raise ValueError(f"no usable imitation teacher among {', '.join(names)}")
  oom, step_time, name, placement = min(scored, key=lambda s: s[:3])
  return Teacher(name=name, placement=placement, step_time=step_time, oom=oom, evaluations=evaluations)


def imitation_loss(params: Any, network: policy.PolicyNetwork, batch: iteration.GraphBatch,
                   target: jax.Array, entropy_weight: float = 0.0) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Mean cross-entropy (nats per real node) of the placement head against ``target``, minus an entropy bonus.

  ``loss = mean_i [-log p_i(target_i) - entropy_weight * H_i]`` over real
  nodes. Without the bonus the clone becomes nearly deterministic and PPO's
  samples stop exploring; with it each node keeps a probability of leaving
  its teacher's device that grows with ``entropy_weight`` (for two devices,
  about 3% at 0.3 and 10% at 0.5).

  Args:
    params: policy parameters.
    network: the policy.
    batch: G graphs (:class:`go_jax.rl.iteration.GraphBatch`).
    target: (G, Np) int32 device per node (any value at padding).
    entropy_weight: weight of the mean per-node placement entropy (nats).

  Returns:
    ``(loss, metrics)`` with () ``imitation_loss`` (the cross-entropy alone),
    ``imitation_entropy`` (nats per real node) and ``imitation_accuracy``
    (fraction of real nodes whose most likely device is the target; from the
    same forward pass, so it describes the parameters before the step).
  """
  zeros = jnp.zeros_like(target)
  actions = policy.Decisions(placement=target[:, None], priority=zeros[:, None], fusion=zeros[:, None])
  output = policy.evaluate_graphs(network, params, batch.graphs, batch.num_devices, actions)
  mask = batch.node_mask.astype(jnp.float32)
  num_real = jnp.maximum(mask.sum(), 1.0)
  log_prob = output.log_prob.placement[:, 0]  # (G, Np)
  cross_entropy = -(log_prob * mask).sum() / num_real
  entropy = (output.entropy.placement[:, 0] * mask).sum() / num_real
  # The target is the argmax exactly when its probability exceeds 1/2, a cheap sufficient test;
  # the exact argmax is measured after training by scoring the greedy decisions.
  accuracy = ((log_prob > jnp.log(0.5)) * mask).sum() / num_real
  metrics = {"imitation_loss": cross_entropy, "imitation_entropy": entropy, "imitation_accuracy": accuracy}
  return cross_entropy - entropy_weight * entropy, metrics


@functools.partial(jax.jit, static_argnames=("network", "steps", "learning_rate", "max_grad_norm"))
def imitate(params: Any, batch: iteration.GraphBatch, target: jax.Array, *, network: policy.PolicyNetwork,
            steps: int, learning_rate: float, max_grad_norm: float,
            entropy_weight: float | jax.Array = 0.0) -> tuple[Any, dict[str, jax.Array]]:
  """``steps`` Adam steps on :func:`imitation_loss` (one ``lax.scan``); returns params and (steps,) metrics."""
  optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))

  def step(carry, _):
    params, opt_state = carry
    grads, metrics = jax.grad(imitation_loss, has_aux=True)(params, network, batch, target,
                                                            entropy_weight)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), metrics

  (params, _), metrics = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
  return params, metrics
