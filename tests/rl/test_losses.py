"""ppo_loss on hand-made batches (a fake policy whose outputs are the parameters)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from go_jax.models import policy
from go_jax.rl import losses

CONFIG = losses.LossConfig(clip_epsilon=0.2, value_coef=0.5, normalize_advantages=True)


def fake_evaluate(params, graphs, num_devices, actions):
  """A 'policy' whose per-node log-prob, entropy and value are its parameters (placement task only)."""
  del graphs, num_devices
  zeros = jnp.zeros_like(params["log_prob"])
  return policy.PolicyOutput(actions=actions, log_prob=policy.Decisions(params["log_prob"], zeros, zeros),
                             entropy=policy.Decisions(params["entropy"], zeros, zeros), value=params["value"])


def make_batch(advantage, old_log_prob=np.log(0.5)):
  node_mask = np.array([[True, True], [True, False]])  # 3 real nodes; (1, 1) is padding
  actions = policy.Decisions(*(np.zeros((2, 2), np.int32),) * 3)
  return losses.Transitions(graphs=None, num_devices=np.array([2, 2], np.int32), node_mask=node_mask,
                            actions=actions, old_log_prob=np.full((2, 2), old_log_prob, np.float32),
                            advantage=np.asarray(advantage, np.float32), returns=np.array([1.0, 1.0], np.float32))


def make_params(ratio):
  return {"log_prob": jnp.log(0.5 * jnp.asarray(ratio, jnp.float32)),
          "entropy": jnp.array([[1.0, 2.0], [3.0, 100.0]]),  # 100 sits on the padding node: ignored
          "value": jnp.array([0.0, 1.0])}


def loss_fn(params, batch, config=CONFIG, entropy_coef=0.1):
  return losses.ppo_loss(params, batch, config, fake_evaluate, entropy_coef)


def test_normalize():
  # [10, 30]: mean 20, population std 10 -> [-1, 1].
  np.testing.assert_allclose(losses.normalize(jnp.array([10.0, 30.0])), [-1.0, 1.0], rtol=1e-6)
  np.testing.assert_allclose(losses.normalize(jnp.array([5.0, 5.0])), [0.0, 0.0])


def test_clipped_surrogate_value_and_entropy_terms():
  # Advantages [1, -1] are already normalised (mean 0, std 1).
  # Ratios: sample 0 (A = +1): 1.5 -> min(1.5, clip 1.2) = 1.2; 0.9 -> min(0.9, 0.9) = 0.9.
  #         sample 1 (A = -1): 0.5 -> min(-0.5, -clip 0.8) = -0.8; padding node ignored.
  # policy_loss = -(1.2 + 0.9 - 0.8) / 3 = -0.43333.
  # value_loss = 0.5 * mean((0 - 1)^2, (1 - 1)^2) = 0.25, weighted 0.5 -> 0.125.
  # entropy = (1 + 2 + 3) / 3 = 2, weighted 0.1 -> -0.2.   total = -0.50833.
  # clip_fraction: |r - 1| > 0.2 for 1.5 and 0.5 -> 2/3.
  batch = make_batch([1.0, -1.0])
  params = make_params([[1.5, 0.9], [0.5, 7.0]])
  loss, metrics = loss_fn(params, batch)
  np.testing.assert_allclose(metrics["policy_loss"], -1.3 / 3, rtol=1e-5)
  np.testing.assert_allclose(metrics["value_loss"], 0.25, rtol=1e-6)
  np.testing.assert_allclose(metrics["entropy"], 2.0, rtol=1e-6)
  np.testing.assert_allclose(loss, -1.3 / 3 + 0.125 - 0.2, rtol=1e-5)
  np.testing.assert_allclose(metrics["clip_fraction"], 2 / 3, rtol=1e-6)
  kl = ((0.5 - np.log(1.5)) + (-0.1 - np.log(0.9)) + (-0.5 - np.log(0.5))) / 3
  np.testing.assert_allclose(metrics["approx_kl"], kl, rtol=1e-5)

  # Clipped nodes get no policy gradient: d/dlogp of (r * A) is r * A / 3 only at the unclipped
  # node (0, 1): -(0.9 * 1) / 3 = -0.3. Entropy and value parameters get their own terms only.
  grads = jax.grad(lambda p: loss_fn(p, batch)[0])(params)
  np.testing.assert_allclose(grads["log_prob"], [[0.0, -0.3], [0.0, 0.0]], atol=1e-6)
  # d/dH of -0.1 * mean over 3 real nodes = -0.1 / 3 at real nodes, 0 at padding.
  np.testing.assert_allclose(grads["entropy"], [[-0.1 / 3, -0.1 / 3], [-0.1 / 3, 0.0]], rtol=1e-5)
  # d/dV of 0.5 * 0.5 * mean((V - R)^2) = 0.5 * (V - R) / 2: [-0.25, 0].
  np.testing.assert_allclose(grads["value"], [-0.25, 0.0], atol=1e-6)


def test_advantage_normalization():
  # With normalisation, any affine rescaling a -> 3a + 7 of the advantages gives the same loss.
  params = make_params([[1.1, 0.95], [0.7, 1.0]])
  loss_a, _ = loss_fn(params, make_batch([1.0, -1.0]))
  loss_b, _ = loss_fn(params, make_batch([10.0, 4.0]))
  np.testing.assert_allclose(loss_a, loss_b, rtol=1e-5)
  # Without it the raw advantages enter: at ratio 1, policy_loss = -mean over real nodes of A
  # = -(10 + 10 + 4) / 3 = -8.
  raw = CONFIG._replace(normalize_advantages=False)
  _, metrics = loss_fn(make_params([[1.0, 1.0], [1.0, 1.0]]), make_batch([10.0, 4.0]), config=raw)
  np.testing.assert_allclose(metrics["policy_loss"], -8.0, rtol=1e-6)
  assert metrics["clip_fraction"] == 0.0 and abs(float(metrics["approx_kl"])) < 1e-7


def test_jit_matches_eager():
  batch = make_batch([1.0, -1.0])
  params = make_params([[1.5, 0.9], [0.5, 7.0]])
  eager, _ = loss_fn(params, batch)
  jitted, _ = jax.jit(functools.partial(loss_fn, batch=batch))(params)
  np.testing.assert_allclose(eager, jitted, rtol=1e-6)


def test_rewards():
  from go_jax.rl import rewards  # pylint: disable=g-import-not-at-top
  config = rewards.RewardConfig(oom_factor=10.0, overflow_weight=1.0)
  capacity = jnp.array([4.0, 4.0])
  # Feasible: -sqrt(step / reference): 4 s vs 1 s -> -2. OOM with 2 of 8 bytes overflowing:
  # failing signal 10 * 1 * (1 + 0.25) = 12.5 s -> -sqrt(12.5).
  peak = jnp.array([[1.0, 2.0], [6.0, 4.0]])
  overflow = rewards.overflow_fraction(peak, capacity)
  np.testing.assert_allclose(overflow, [0.0, 0.25])
  reward = rewards.reward(jnp.array([4.0, 1.0]), jnp.array([False, True]), overflow, jnp.float32(1.0), config)
  np.testing.assert_allclose(reward, [-2.0, -np.sqrt(12.5)], rtol=1e-6)


def test_graph_by_vector_layout_equals_flat_rows():
  # iteration.py passes (G, K, Np) actions/log-probs with (G, 1, Np) node masks and a per-graph
  # value (G,); the loss must equal the same samples laid out as (G * K,) rows.
  rng = np.random.default_rng(0)
  num_graphs, num_vectors, num_nodes = 2, 3, 4
  log_prob = np.log(rng.uniform(0.2, 0.9, (num_graphs, num_vectors, num_nodes))).astype(np.float32)
  old = np.log(rng.uniform(0.2, 0.9, log_prob.shape)).astype(np.float32)
  entropy = rng.uniform(0.5, 1.5, log_prob.shape).astype(np.float32)
  node_mask = np.array([[True, True, True, False], [True, True, False, False]])
  advantage = rng.normal(size=(num_graphs, num_vectors)).astype(np.float32)
  returns = rng.normal(size=(num_graphs, num_vectors)).astype(np.float32)
  value = np.array([0.3, -0.2], np.float32)
  actions = policy.Decisions(*(np.zeros(log_prob.shape, np.int32),) * 3)
  grouped = losses.Transitions(graphs=None, num_devices=None, node_mask=node_mask[:, None, :], actions=actions,
                               old_log_prob=old, advantage=advantage, returns=returns)
  flat = losses.Transitions(graphs=None, num_devices=None, node_mask=np.repeat(node_mask, num_vectors, axis=0),
                            actions=jax.tree.map(lambda x: x.reshape(-1, num_nodes), actions),
                            old_log_prob=old.reshape(-1, num_nodes), advantage=advantage.reshape(-1),
                            returns=returns.reshape(-1))

  def grouped_params():
    return {"log_prob": jnp.asarray(log_prob), "entropy": jnp.asarray(entropy), "value": jnp.asarray(value)}

  def flat_params():
    return {"log_prob": jnp.asarray(log_prob.reshape(-1, num_nodes)),
            "entropy": jnp.asarray(entropy.reshape(-1, num_nodes)),
            "value": jnp.asarray(np.repeat(value, num_vectors))}

  loss_g, metrics_g = loss_fn(grouped_params(), grouped)
  loss_f, metrics_f = loss_fn(flat_params(), flat)
  np.testing.assert_allclose(loss_g, loss_f, rtol=1e-5)
  for name in metrics_f:
    np.testing.assert_allclose(metrics_g[name], metrics_f[name], rtol=1e-5, atol=1e-7, err_msg=name)
