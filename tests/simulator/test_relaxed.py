"""Tests of the relaxed step time: exact limit at one-hot placements, monotone in T, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simulator import reference
from simulator import relaxed
from simulator import types
from tests.simulator import graphs
from tests.simulator import test_reference


def exact_step_time(graph, cluster, placement, priority=None):
  priority = np.zeros(graph.num_nodes) if priority is None else np.asarray(priority, np.float64)
  decisions = types.Decisions(np.asarray(placement), priority, np.zeros(graph.num_nodes, bool))
  return float(reference.simulate_reference(graph, cluster, decisions)[0].step_time)


def one_hot(placement, num_devices):
  return np.eye(num_devices)[np.asarray(placement)]


def random_case(seed):
  """A seeded random DAG (measured latencies and transfers included), cluster, placement, priorities."""
  rng = np.random.default_rng(seed)
  graph = graphs.random_dag(rng, int(rng.integers(2, 24)), measured_prob=0.2, transfer_prob=0.2)
  num_devices = int(rng.integers(1, 4))
  cluster = graphs.random_cluster(rng, num_devices)
  placement = rng.integers(0, num_devices, graph.num_nodes)
  priority = rng.integers(0, 3, graph.num_nodes).astype(np.float64) if seed % 2 else np.zeros(graph.num_nodes)
  return graph, cluster, placement, priority


def test_contention_example_by_hand():
  # README worked example: a (1 s), b (2 s) on device 0 feed c (1 s) on device 1; copies of
  # a 3 s and b 2 s share link 0->1: c runs 6-7 (7 s); with priority[b] = 1 it is 8 s.
  graph, cluster = test_reference.contention_graph(), graphs.unit_cluster(2)
  with jax.enable_x64(True):
    plan = relaxed.relaxed_plan(graph, cluster)
    assert float(relaxed.relaxed_step_time(plan, one_hot([0, 0, 1], 2), 1e-9)) == pytest.approx(7.0, rel=1e-8)
    plan = relaxed.relaxed_plan(graph, cluster, priority=[0.0, 1.0, 0.0])
    assert float(relaxed.relaxed_step_time(plan, one_hot([0, 0, 1], 2), 1e-9)) == pytest.approx(8.0, rel=1e-8)


def test_mean_field_value_by_hand():
  # Same graph, a and b on device 0, c on either device with probability 1/2 (T -> 0).
  # a: finish 1 on either device; its copy to device 1 ends 1 + 3 = 4; link 0->1 free at
  #    0 + P(a on 0) * Q(a's consumer on 1) * (4 - 0) = 2.
  # b: starts at device 0's free time 1, finishes 3; copy ends max(3, 2) + 2 = 5.
  # c: ready on device 0 at max(3, 1, 3) = 3 -> 4; on device 1 at max(0, 4, 5) = 5 -> 6.
  # Relaxed step time = max of expected finishes (1, 3, (4 + 6) / 2) = 5, between the hard
  # values 4 (c on device 0) and 7 (c on device 1, contended link).
  graph, cluster = test_reference.contention_graph(), graphs.unit_cluster(2)
  with jax.enable_x64(True):
    plan = relaxed.relaxed_plan(graph, cluster)
    probs = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    schedule = relaxed.relaxed_schedule(plan, probs, 1e-9)
    np.testing.assert_allclose(schedule.finish, [[1, 1], [3, 2], [4, 6]], atol=1e-7)
    np.testing.assert_allclose(schedule.expected_finish, [1, 3, 5], atol=1e-7)
    np.testing.assert_allclose(schedule.arrival[:2], [[1, 4], [3, 5]], atol=1e-7)
    assert float(schedule.step_time) == pytest.approx(5.0, abs=1e-7)


@pytest.mark.parametrize("seed", range(24))
def test_one_hot_limit_is_the_reference_step_time(seed):
  graph, cluster, placement, priority = random_case(seed)
  exact = exact_step_time(graph, cluster, placement, priority)
  with jax.enable_x64(True):
    plan = relaxed.relaxed_plan(graph, cluster, priority)
    probs = one_hot(placement, cluster.num_devices)
    values = [float(relaxed.relaxed_step_time(plan, probs, scale * max(exact, 1.0)))
              for scale in (1e-1, 1e-2, 1e-4, 1e-6)]
  assert values[-1] == pytest.approx(exact, rel=1e-5, abs=1e-9)
  # Monotone approach from above: every operation is nondecreasing in T.
  assert all(a >= b - 1e-12 for a, b in zip(values, values[1:]))
  assert values[-1] >= exact - 1e-9


def test_one_hot_limit_float32():
  # The default dtype: float32 rounding, not the relaxation, limits the agreement.
  graph, cluster, placement, priority = random_case(3)
  exact = exact_step_time(graph, cluster, placement, priority)
  plan = relaxed.relaxed_plan(graph, cluster, priority)
  assert plan.duration.dtype == jnp.float32
  value = float(relaxed.relaxed_step_time(plan, one_hot(placement, cluster.num_devices), 1e-5 * exact))
  assert value == pytest.approx(exact, rel=1e-4)


def test_many_producers_use_several_rows():
  # A node with 9 producers spans 3 rows of EDGE_SLOTS = 4; each producer takes i + 1 s on
  # device 0 one after another (ends 1, 3, ..., 45), the sink runs 45-46.
  nodes = [graphs.node(f"p{i}", flops=float(i + 1)) for i in range(9)] + [graphs.node("sink", flops=1.0)]
  graph = graphs.build(nodes, [(i, 9, 0.0) for i in range(9)])
  with jax.enable_x64(True):
    plan = relaxed.relaxed_plan(graph, graphs.unit_cluster(1))
    assert plan.node.shape == (9 + 3,)
    assert float(relaxed.relaxed_step_time(plan, np.ones((10, 1)), 1e-9)) == pytest.approx(46.0)


def test_copy_probability_by_hand():
  # Node 0 feeds 1 and 2; P(1 on d1) = 0.5, P(2 on d1) = 0.25: Q[0, d1] = 1 - 0.5 * 0.75.
  probs = jnp.array([[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]])
  need = relaxed.copy_probability(probs, jnp.array([0, 0]), jnp.array([1, 2]))
  np.testing.assert_allclose(need, [[1 - 0.5 * 0.25, 1 - 0.5 * 0.75], [0, 0], [0, 0]], rtol=1e-6)
  # A consumer surely on d0: Q = 1 exactly, gradient finite.
  grad = jax.grad(lambda p: relaxed.copy_probability(p, jnp.array([0]), jnp.array([1])).sum())(
      jnp.array([[0.5, 0.5], [1.0, 0.0]]))
  assert np.all(np.isfinite(grad))


def test_jit_eager_and_vmap_agree():
  graph, cluster, placement, priority = random_case(5)
  plan = relaxed.relaxed_plan(graph, cluster, priority)
  rng = np.random.default_rng(0)
  probs = jax.nn.softmax(jnp.asarray(rng.normal(size=(3, graph.num_nodes, cluster.num_devices))), axis=-1)
  batch = relaxed.relaxed_step_time_batch(plan, probs, 0.1)
  for b in range(2):
    eager = relaxed.relaxed_schedule(plan, probs[b], 0.1).step_time
    np.testing.assert_allclose(batch[b], eager, rtol=1e-5)
    np.testing.assert_allclose(relaxed.relaxed_step_time(plan, probs[b], 0.1), eager, rtol=1e-5)


@pytest.mark.parametrize("seed", [1, 4])
def test_gradient_matches_finite_differences(seed):
  graph, cluster, placement, priority = random_case(seed)
  with jax.enable_x64(True):
    plan = relaxed.relaxed_plan(graph, cluster, priority)
    rng = np.random.default_rng(seed)
    logits = jnp.asarray(rng.normal(size=(graph.num_nodes, cluster.num_devices)))
    direction = jnp.asarray(rng.normal(size=logits.shape))

    @jax.jit
    def value_and_grad(x, temperature):
      return jax.value_and_grad(
          lambda y: relaxed.relaxed_schedule(plan, jax.nn.softmax(y, axis=-1), temperature).step_time)(x)

    _, grad = value_and_grad(logits, 0.05)
    assert np.all(np.isfinite(grad))
    eps = 1e-6
    numeric = (value_and_grad(logits + eps * direction, 0.05)[0]
               - value_and_grad(logits - eps * direction, 0.05)[0]) / (2 * eps)
    assert float(jnp.vdot(grad, direction)) == pytest.approx(float(numeric), rel=1e-5, abs=1e-8)
    # Near a one-hot placement (logits +-40) and a small T the gradient stays finite.
    _, grad = value_and_grad(40.0 * jnp.asarray(one_hot(placement, cluster.num_devices)), 1e-6)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("seed", [0, 3, 6])
def test_hand_written_reverse_pass_equals_jax_autodiff(seed):
  """The custom VJP of the row scan against JAX differentiating the same scan (the readable reference).

  Gradients of every float input (probabilities, durations, copy times) and of every output
  (step time, per-node finishes, arrivals), batched with vmap, including nodes spread over
  several rows (a 9-producer fan-in) so the ``ready`` chain between rows is exercised.
  """
  graph, cluster, _, priority = random_case(seed)
  fan_in = [graphs.node(f"p{i}", flops=float(i + 1)) for i in range(9)] + [graphs.node("sink", flops=1.0)]
  cases = [(graph, cluster, priority), (graphs.build(fan_in, [(i, 9, 1e6 * (i + 1)) for i in range(9)]),
                                        graphs.unit_cluster(3), None)]
  for graph, cluster, priority in cases:
    with jax.enable_x64(True):
      plan = relaxed.relaxed_plan(graph, cluster, priority)
      rng = np.random.default_rng(seed)
      logits = jnp.asarray(rng.normal(size=(2, graph.num_nodes, cluster.num_devices)))
      weights = [jnp.asarray(rng.normal(size=shape)) for shape in ((graph.num_nodes, cluster.num_devices),) * 2]

      def loss(logits, duration, copy_time, scan):
        out = jax.vmap(lambda x: relaxed.relaxed_schedule(
            plan._replace(duration=duration, copy_time=copy_time), jax.nn.softmax(x, axis=-1), 0.05, scan))(logits)
        return (out.step_time.sum() + (weights[0] * out.finish).sum(axis=(1, 2)).mean()
                + (weights[1] * out.arrival).sum(axis=(1, 2)).mean())

      grads = {}
      for name, scan in (("custom", relaxed._scan_rows), ("autodiff", relaxed._scan_rows_autodiff)):  # pylint: disable=protected-access
        grads[name] = jax.jit(jax.value_and_grad(lambda *a, scan=scan: loss(*a, scan), argnums=(0, 1, 2)))(
            logits, plan.duration, plan.copy_time)
      np.testing.assert_allclose(grads["custom"][0], grads["autodiff"][0], rtol=1e-12)
      assert cluster.num_devices == 1 or np.any(grads["autodiff"][1][0] != 0)  # (softmax over one device: 0)
      for custom, reference_grad in zip(grads["custom"][1], grads["autodiff"][1]):
        np.testing.assert_allclose(custom, reference_grad, rtol=1e-9, atol=1e-12)


def test_gradient_points_to_the_better_device():
  # Two chains of two 4 s nodes, copies 9 s; chain b's second node b1 is on the wrong device.
  # Moving probability mass of b1 towards b0's device must lower the relaxed step time.
  nodes = [graphs.node(name, flops=4.0) for name in ("a0", "a1", "b0", "b1")]
  graph = graphs.build(nodes, [(0, 1, 8.0), (2, 3, 8.0)])
  plan = relaxed.relaxed_plan(graph, graphs.unit_cluster(2, latency=1.0, bandwidth=1.0))
  probs = jnp.asarray(one_hot([0, 0, 1, 0], 2) * 0.9 + 0.05)
  grad = jax.grad(lambda p: relaxed.relaxed_step_time(plan, p, 0.1))(probs)
  assert grad[3, 1] < grad[3, 0]


def test_bad_inputs_raise():
  graph, cluster = test_reference.contention_graph(), graphs.unit_cluster(2)
  plan = relaxed.relaxed_plan(graph, cluster)
  with pytest.raises(ValueError, match="probs has shape"):
    relaxed.relaxed_step_time(plan, np.ones((3, 3)) / 3, 0.1)
  with pytest.raises(ValueError, match="priority"):
    relaxed.relaxed_plan(graph, cluster, priority=[0.0, np.nan, 0.0])
