"""The PPO loss of GO (pure functions; brax ``ppo/losses.py`` style).

GO is a contextual bandit: one "episode" is one graph, one action is the
whole decision vector (placement, priority, fusion of every node), and the
reward arrives at once. So there is no GAE: the return of a sample is its
reward, and its advantage is the reward minus a per-graph baseline (see
:mod:`go_jax.rl.iteration`).

**Per-node ratios.** The policy is a product of per-node categoricals (one
forward pass decides every node). The probability ratio of the *joint*
action is ``exp(sum_i log_ratio_i)`` over hundreds of nodes, so it leaves
``[1 - eps, 1 + eps]`` after the first minibatch and clips nearly everything.
Like token-level PPO for sequence models, :func:`ppo_loss` clips each node's
ratio ``r_i = pi(a_i) / pi_old(a_i)`` (the product of its tasks' ratios) and
gives every node of a sample that sample's advantage::

  L_clip = -mean_{b, i real} min(r_bi A_b, clip(r_bi, 1 - eps, 1 + eps) A_b)
  L_value = 0.5 * mean_b (V_b - R_b)^2
  L = L_clip + value_coef * L_value - entropy_coef * mean_{b, i real} H_bi

with ``A`` normalised over the batch (zero mean, unit std) when
``normalize_advantages``; ``H_bi`` is the node's entropy summed over tasks.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from go_jax.models import policy

#: (params, graphs, num_devices, actions (..., Np) each) -> PolicyOutput with (..., Np) log-probs and a
#: value broadcastable to the returns (e.g. :func:`go_jax.models.policy.evaluate_graphs`: graphs (G, ...),
#: actions (G, K, Np), value (G,)).
EvaluateFn = Callable[[Any, Any, jax.Array, policy.Decisions], policy.PolicyOutput]


class LossConfig(NamedTuple):
  """Static PPO hyper-parameters (hashable: a jit static argument).

  Attributes:
    clip_epsilon: PPO ratio clip ``eps``.
    value_coef: weight of the value loss.
    normalize_advantages: standardise advantages over the (mini)batch.
  """

  clip_epsilon: float = 0.2
  value_coef: float = 0.5
  normalize_advantages: bool = True


class Transitions(NamedTuple):
  """A batch of sampled decision vectors and what they earned.

  The leading sample shape ``S`` is free: (G, K) in :mod:`go_jax.rl.iteration`
  (G graphs, K vectors each, so that the policy encodes each graph once), or
  (B,) with one graph per row.

  Attributes:
    graphs: the policy's input graphs, as ``evaluate_fn`` takes them ((G, ...) leaves).
    num_devices: int32 devices available to placement, as ``evaluate_fn`` takes them ((G,)).
    node_mask: (..., Np) bool, True at real nodes, broadcastable to ``S + (Np,)`` ((G, 1, Np)).
    actions: S + (Np,) int32 each, the sampled decisions (node order).
    old_log_prob: S + (Np,) float32, per-node log-prob (sum over tasks) under the sampling policy.
    advantage: S float32, reward minus the per-graph baseline (not yet normalised).
    returns: S float32, the value target (the reward).
  """

  graphs: Any
  num_devices: jax.Array
  node_mask: jax.Array
  actions: policy.Decisions
  old_log_prob: jax.Array
  advantage: jax.Array
  returns: jax.Array


def normalize(advantage: jax.Array, eps: float = 1e-8) -> jax.Array:
  """(B,) advantages with zero mean and unit standard deviation (all zeros if constant)."""
  centred = advantage - advantage.mean()
  return centred / (centred.std() + eps)


def ppo_loss(params: Any, batch: Transitions, config: LossConfig, evaluate_fn: EvaluateFn,
             entropy_coef: jax.Array | float) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The clipped-surrogate PPO loss with per-node ratios (module docstring).

  Args:
    params: the policy parameters.
    batch: transitions (:class:`Transitions`), Np padded nodes.
    config: static hyper-parameters.
    evaluate_fn: log-probs/entropies/values of ``batch.actions`` under ``params``
      (e.g. ``functools.partial(policy.evaluate_batch, network)``).
    entropy_coef: () weight of the entropy bonus (scheduled by the caller).

  Returns:
    ``(loss, metrics)``: () float32, and () float32 metrics ``total_loss``,
    ``policy_loss``, ``value_loss``, ``entropy`` (nats per real node, summed over
    tasks), ``approx_kl`` (mean of ``(r - 1) - log r`` per node), ``clip_fraction``
    (nodes with ``|r - 1| > eps``).
  """
  output = evaluate_fn(params, batch.graphs, batch.num_devices, batch.actions)
  node_mask = jnp.broadcast_to(batch.node_mask, batch.old_log_prob.shape)
  mask = node_mask.astype(jnp.float32)  # S + (Np,)
  num_real = jnp.maximum(mask.sum(), 1.0)

  def masked_mean(values):  # S + (Np,) -> ()
    return (values * mask).sum() / num_real

  advantage = normalize(batch.advantage) if config.normalize_advantages else batch.advantage
  log_ratio = jnp.where(node_mask, policy.joint_log_prob(output.log_prob) - batch.old_log_prob, 0.0)
  ratio = jnp.exp(log_ratio)  # S + (Np,)
  unclipped = ratio * advantage[..., None]
  clipped = jnp.clip(ratio, 1.0 - config.clip_epsilon, 1.0 + config.clip_epsilon) * advantage[..., None]
  policy_loss = -masked_mean(jnp.minimum(unclipped, clipped))
  value = output.value.reshape(output.value.shape + (1,) * (batch.returns.ndim - output.value.ndim))
  value_loss = 0.5 * jnp.mean((value - batch.returns) ** 2)
  entropy = masked_mean(policy.joint_log_prob(output.entropy))  # the sum over tasks, per node
  total = policy_loss + config.value_coef * value_loss - entropy_coef * entropy
  metrics = {
      "total_loss": total,
      "policy_loss": policy_loss,
      "value_loss": value_loss,
      "entropy": entropy,
      "approx_kl": jax.lax.stop_gradient(masked_mean((ratio - 1.0) - log_ratio)),
      "clip_fraction": jax.lax.stop_gradient(masked_mean(
          (jnp.abs(ratio - 1.0) > config.clip_epsilon).astype(jnp.float32))),
  }
  return total, metrics
