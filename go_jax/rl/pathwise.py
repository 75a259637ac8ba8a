"""Pathwise gradients for GO-one: descend the relaxed simulator through the policy.

**Why.** PPO gives every node of a sampled placement one shared scalar
advantage, so on a graph of thousands of nodes it learns slowly which node
should move (``docs/go_one_tuning.md``: after the imitation warm start, 80
PPO iterations left txl_4 at the clone's 275.6 ms). The simulator is
differentiable, and its relaxation (:mod:`simulator.relaxed`) gives every
node its own gradient: how the expected step time changes if that node's
device probabilities move. The ``gradient`` baseline
(:func:`go_jax.baselines.search.gradient`) follows that gradient on free
per-node logits; here the same objective is followed through the policy's
parameters, so the policy itself learns the better placement.

**What.** Before each PPO iteration, :func:`descend` takes ``steps`` Adam
steps (GO-one's optimizer and state) on

  ``L(theta) = relaxed_step_time(P_theta, T) / reference_step_time``

where ``P_theta`` (N, D) are the policy's placement probabilities
(:func:`placement_log_probs`) and ``relaxed_step_time`` is the gradient
baseline's objective (:func:`go_jax.baselines.search.relaxed_step_time`: the
relaxed simulator at level-order priorities without fusion, plus an
expected-memory penalty). The smooth-max temperature ``T`` is a fraction of
the reference step time, annealed geometrically from ``start_smoothing`` to
``end_smoothing`` over ``anneal_iterations`` iterations. It then scores the
policy's argmax exactly and keeps it if it is the best so far.

**Budget.** As in the ``gradient`` baseline, each relaxed step counts as one
simulator evaluation, and the argmax as one more: an iteration costs
``num_samples + steps + 1`` evaluations.

**Limits.** The relaxation models placement only: with the scheduling or
fusion task on, the relaxed term still assumes level order and no fusion
(PPO's exact rewards see the real decisions). One graph per batch (GO-one).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from go_jax import evaluation
from go_jax.baselines import objective as objective_lib
from go_jax.baselines import search
from go_jax.models import policy
from go_jax.rl import iteration

_MASKED = -1e9  # log-probability of a device the cluster does not have


class PathwiseConfig(NamedTuple):
  """Static settings of :func:`descend` (hashable).

  Attributes:
    steps: relaxed Adam steps before each PPO iteration (0 = off).
    start_smoothing: smooth-max temperature at iteration 0, a fraction of the reference step time.
    end_smoothing: the fraction after ``anneal_iterations`` iterations (constant afterwards).
    anneal_iterations: length of the geometric anneal, iterations.
  """

  steps: int = 0
  start_smoothing: float = 1e-3
  end_smoothing: float = 1e-5
  anneal_iterations: int = 60


def surrogate_data(problem: evaluation.Problem, placement: np.ndarray) -> search.SurrogateData:
  """The relaxed objective of ``problem`` at level order, calibrated on one placement.

  ``placement`` (N,) is simulated once to measure which fraction of output
  bytes is live at the peak (:func:`go_jax.baselines.search.live_fraction`),
  which the expected-memory penalty uses. The caller counts that simulation.
  """
  graph = problem.graph
  objective = objective_lib.BatchedObjective(graph, problem.cluster)
  placement = np.asarray(placement, np.int32)[None]
  _, peaks = objective.detailed(placement, np.zeros(placement.shape, np.float32))
  return search.surrogate_data(problem, objective.leader, np.zeros(graph.num_nodes, np.float32),
                               search.live_fraction(problem, placement[0], peaks[0]), objective.penalty)


def placement_log_probs(network: policy.PolicyNetwork, params: Any, batch: iteration.GraphBatch) -> jax.Array:
  """(G, Np, max_devices) log-probabilities of every node's device under the policy.

  Placement is the policy's first task, so its distribution does not depend on
  any sampled action: evaluating ``max_devices`` action vectors "every node on
  device d" reads it off (the encoder and trunk still run once per graph).
  Devices beyond a graph's ``num_devices`` get log-probability about -1e9.
  """
  if network.tasks[0] != "placement":
    raise ValueError(f"pathwise gradients need the placement task, got tasks {network.tasks}")
  num_graphs, num_nodes = batch.node_mask.shape
  device = jnp.broadcast_to(jnp.arange(network.max_devices, dtype=jnp.int32)[None, :, None],
                            (num_graphs, network.max_devices, num_nodes))
  zeros = jnp.zeros_like(device)
  output = policy.evaluate_graphs(network, params, batch.graphs, batch.num_devices,
                                  policy.Decisions(placement=device, priority=zeros, fusion=zeros))
  return jnp.swapaxes(output.log_prob.placement, 1, 2)


def relaxed_loss(params: Any, network: policy.PolicyNetwork, batch: iteration.GraphBatch,
                 data: search.SurrogateData, temperature: jax.Array) -> jax.Array:
  """() the policy's relaxed step time over the reference step time (module docstring); graph 0 of ``batch``."""
  num_nodes, num_devices = data.plan.duration.shape  # N real nodes, D cluster devices
  log_prob = placement_log_probs(network, params, batch)[0, :num_nodes]  # (N, max_devices)
  if num_devices <= log_prob.shape[1]:
    log_prob = log_prob[:, :num_devices]
  else:  # the policy cannot place beyond its max_devices
    log_prob = jnp.pad(log_prob, ((0, 0), (0, num_devices - log_prob.shape[1])), constant_values=_MASKED)
  return search.relaxed_step_time(log_prob, data, temperature) / batch.reference_step_time[0]


def smoothing(step: jax.Array, config: PathwiseConfig) -> jax.Array:
  """() temperature fraction at iteration ``step``: geometric from start to end, then constant."""
  progress = jnp.minimum(step.astype(jnp.float32) / max(config.anneal_iterations, 1), 1.0)
  return config.start_smoothing * (config.end_smoothing / config.start_smoothing) ** progress


@functools.partial(jax.jit, static_argnames=("network", "config", "it_config"))
def descend(state: iteration.TrainState, batch: iteration.GraphBatch, data: search.SurrogateData, *,
            network: policy.PolicyNetwork, config: PathwiseConfig, it_config: iteration.IterationConfig
            ) -> tuple[iteration.TrainState, dict[str, jax.Array]]:
  """``config.steps`` Adam steps on :func:`relaxed_loss`, then the argmax scored (module docstring).

  Returns:
    The new state (params, optimizer state, evaluations ``+ steps + 1``, best)
    and () float32 metrics ``relaxed_step_time`` (seconds, before the last
    step), ``relaxed_temperature`` (seconds) and ``relaxed_grad_norm``.
  """
  if batch.node_mask.shape[0] != 1:
    raise ValueError(f"pathwise descent is for one graph (GO-one), got {batch.node_mask.shape[0]}")
  optimizer = iteration.make_optimizer(it_config)
  temperature = smoothing(state.step, config) * batch.reference_step_time[0]
  value_and_grad = jax.value_and_grad(relaxed_loss)

  def step(carry, _):
    params, opt_state = carry
    value, grads = value_and_grad(params, network, batch, data, temperature)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), (value, optax.tree.norm(grads))

  (params, opt_state), (values, grad_norms) = jax.lax.scan(step, (state.params, state.opt_state), None,
                                                           length=config.steps)
  before = state.best_cost
  state = state.replace(params=params, opt_state=opt_state, evaluations=state.evaluations + config.steps)
  state = iteration.record_best(state, batch, iteration.greedy_decisions(params, batch, network))
  state = state.replace(best_iteration=jnp.where(jnp.any(state.best_cost < before), state.step + 1,
                                                 state.best_iteration))
  metrics = {"relaxed_step_time": values[-1] * batch.reference_step_time[0],
             "relaxed_temperature": temperature, "relaxed_grad_norm": grad_norms.mean()}
  return state, metrics
