"""Tests of the search baselines: exact budgets, determinism, validity, hand-known optima."""

import jax
import numpy as np
import pytest

from go_jax import evaluation
from go_jax.baselines import objective as objective_lib
from go_jax.baselines import placement as placement_lib
from go_jax.baselines import search
import simulator
from tests.simulator import graphs


def two_chains(length=4, flops=4.0, edge_bytes=8.0, colocation=None):
  """Two independent chains a0 -> a1 -> ... and b0 -> b1 -> ... (ids 0..L-1 and L..2L-1)."""
  colocation = colocation or [-1] * (2 * length)
  nodes = [graphs.node(f"{chain}{i}", flops=flops, colocation=colocation[k])
           for k, (chain, i) in enumerate((c, i) for c in "ab" for i in range(length))]
  edges = [(c * length + i, c * length + i + 1, edge_bytes) for c in range(2) for i in range(length - 1)]
  return graphs.build(nodes, edges, name="two_chains")


# Two chains of four 4 s nodes on two unit devices, copies 1 s + 8 B / (1 B/s) = 9 s.
# One chain per device: 4 * 4 = 16 s. Any other placement either puts >= 5 nodes
# (>= 20 s) on one device or splits a chain (a 9 s copy on its path: >= 25 s).
# All on one device: 8 * 4 = 32 s.
OPTIMUM = 16.0
SINGLE = 32.0


def chains_problem(budget, seed=0, **kw):
  return evaluation.Problem(two_chains(**kw), graphs.unit_cluster(2, latency=1.0, bandwidth=1.0),
                            budget=budget, seed=seed)


def exact_step_time(problem, output):
  result, _ = simulator.simulate_reference(problem.graph, problem.cluster, output.decisions)
  assert not np.any(result.oom)
  return float(result.step_time)


@pytest.fixture
def counted(monkeypatch):
  """Counts decision vectors simulated and surrogate steps taken, independently of the methods."""
  counts = {"rows": 0, "surrogate": 0}
  detailed = objective_lib.BatchedObjective.detailed
  step = search.surrogate_step

  def counting_detailed(self, placement, priority, fusion=None):
    counts["rows"] += np.shape(placement)[0]
    return detailed(self, placement, priority, fusion)

  def counting_step(*args, **kwargs):
    counts["surrogate"] += 1
    return step(*args, **kwargs)

  monkeypatch.setattr(objective_lib.BatchedObjective, "detailed", counting_detailed)
  monkeypatch.setattr(search, "surrogate_step", counting_step)
  return counts


@pytest.mark.parametrize("name", sorted(search.METHODS))
@pytest.mark.parametrize("budget", [3, 77])
def test_budget_is_spent_exactly(name, budget, counted):
  problem = chains_problem(budget)
  output = search.METHODS[name](problem)
  assert counted["rows"] + counted["surrogate"] == output.evaluations == budget


@pytest.mark.parametrize("name", sorted(search.METHODS))
def test_deterministic_and_valid_with_colocation(name):
  # a0 and b3 share a group: b3 must follow a0 (the group's first node in topological order).
  colocation = [5, -1, -1, -1, -1, -1, -1, 5]
  problem = chains_problem(40, seed=3, colocation=colocation)
  first, second = search.METHODS[name](problem), search.METHODS[name](problem)
  for a, b in zip(first.decisions, second.decisions):
    np.testing.assert_array_equal(a, b)
  placement = np.asarray(first.decisions.placement)
  assert placement.shape == (8,) and placement.min() >= 0 and placement.max() < 2
  np.testing.assert_array_equal(placement, placement_lib.apply_colocation(problem.graph, placement))
  assert not np.any(first.decisions.fusion)
  simulator.simulate_reference(problem.graph, problem.cluster, first.decisions)  # validates


@pytest.mark.parametrize("name", ["anneal", "brkga"])
def test_reaches_the_hand_computed_optimum(name):
  problem = chains_problem(300)
  output = search.METHODS[name](problem)
  assert exact_step_time(problem, output) == pytest.approx(OPTIMUM)
  placement = np.asarray(output.decisions.placement)
  assert len(set(placement[:4])) == 1 and len(set(placement[4:])) == 1 and placement[0] != placement[4]


def test_random_no_worse_than_single_device():
  problem = chains_problem(64)
  assert exact_step_time(problem, search.random_search(problem)) <= SINGLE


def test_gradient_descent_repairs_a_misplaced_node():
  # Warm start from an "expert" with b3 on the wrong device: a0-a3 on device 0 (0-16),
  # b0-b2 on device 1 (0-12), b2's 9 s copy 12-21, b3 on device 0 21-25: 25 s (the other
  # starts: contiguous halves 25 s, one device 32 s). Without samples, only the argmax of
  # the relaxed descent is simulated: it must move b3 to device 1 (16 s, the optimum).
  expert = np.array([0, 0, 0, 0, 1, 1, 1, 0])
  problem = evaluation.Problem(two_chains(), graphs.unit_cluster(2, latency=1.0, bandwidth=1.0), budget=100,
                               expert=expert)
  assert exact_step_time(problem, evaluation.MethodOutput(
      simulator.Decisions(expert, np.zeros(8), np.zeros(8, bool)), 0, "")) == 25.0
  output = search.gradient(problem, search.GradientConfig(samples_per_round=0))
  assert exact_step_time(problem, output) == pytest.approx(OPTIMUM)
  assert "argmax 1 / sample 0" in output.notes


def test_relaxed_step_time_is_the_simulator_at_hard_placements():
  problem = chains_problem(1)
  data = search.surrogate_data(problem, np.arange(8), np.zeros(8), 0.0, 1.0)
  sharp = 40.0  # softmax of +-40 logits: one-hot up to 4e-18
  relaxed_step_time = jax.jit(search.relaxed_step_time)  # one compilation for all placements

  def value(placement):
    logits = sharp * np.eye(2)[placement]
    return float(relaxed_step_time(logits, data, np.float32(1e-4)))

  # One chain per device 16 s, all on one device 32 s; both chains cut in the middle: each
  # device runs its first halves 0-8, both 9 s copies 8-17, the second halves 17-25.
  # The smooth max adds at most 1e-4 s * log 3 per node on the critical chain.
  assert value([0, 0, 0, 0, 1, 1, 1, 1]) == pytest.approx(16.0, abs=2e-3)
  assert value([0] * 8) == pytest.approx(32.0, abs=2e-3)
  assert value([0, 0, 1, 1, 1, 1, 0, 0]) == pytest.approx(25.0, abs=2e-3)
  for placement in ([0, 0, 1, 1, 1, 1, 0, 0], [0, 1, 0, 1, 1, 0, 1, 0]):
    decisions = simulator.Decisions(np.array(placement), np.zeros(8), np.zeros(8, bool))
    exact = simulator.simulate_reference(problem.graph, problem.cluster, decisions)[0].step_time
    assert value(placement) == pytest.approx(exact, abs=2e-3)


def test_relaxed_memory_penalty():
  # Capacity 5 B per device, 1 B of parameters per node: all 8 nodes on one device overflow
  # by 3 B of the 10 B total, which costs penalty * 0.3 on top of the 32 s step.
  nodes = [graphs.node(f"{c}{i}", flops=4.0, param_bytes=1.0) for c in "ab" for i in range(4)]
  g = graphs.build(nodes, [(c * 4 + i, c * 4 + i + 1, 8.0) for c in range(2) for i in range(3)])
  problem = evaluation.Problem(g, graphs.unit_cluster(2, capacity=5.0), budget=1)
  data = search.surrogate_data(problem, np.arange(8), np.zeros(8), 0.0, 100.0)
  logits = 40.0 * np.eye(2)[np.zeros(8, int)]
  value = float(search.relaxed_step_time(logits, data, np.float32(1e-4)))
  assert value == pytest.approx(32.0 + 30.0, abs=2e-3)


def test_brkga_decoding_by_hand():
  # N = 3, D = 2; node 2 is colocated with node 0 (leader 0). Device keys 0.1, 0.7, 0.99
  # -> floor(2 k) = 0, 1, 1, but node 2 takes node 0's device: 0, 1, 0. Priority keys
  # 0.0, 0.3, 0.99 -> floor(4 k) = 0, 1, 3.
  keys = np.array([[0.1, 0.7, 0.99, 0.0, 0.3, 0.99]])
  placement, priority = search.decode_keys(keys, np.array([0, 1, 0]), 2)
  assert placement.tolist() == [[0, 1, 0]]
  assert priority.tolist() == [[0.0, 1.0, 3.0]]


def test_colocation_leader_matches_apply_colocation():
  rng = np.random.default_rng(0)
  g = graphs.build([graphs.node(f"n{i}", colocation=int(c)) for i, c in enumerate(rng.integers(-1, 3, 12))],
                   [(i, i + 1, 1.0) for i in range(11)])
  leader = objective_lib.colocation_leader(g)
  for _ in range(5):
    placement = rng.integers(0, 3, 12).astype(np.int32)
    np.testing.assert_array_equal(placement[leader], placement_lib.apply_colocation(g, placement))


def test_oom_ranks_after_every_feasible_candidate():
  # Capacity 5 B per device; each node holds 1 B of parameters, tensors are empty:
  # 8 B (overflow 3 B) or 6 B (overflow 1 B) on one device is OOM, 4 + 4 B fits.
  nodes = [graphs.node(f"{c}{i}", flops=4.0, param_bytes=1.0) for c in "ab" for i in range(4)]
  g = graphs.build(nodes, [(c * 4 + i, c * 4 + i + 1, 0.0) for c in range(2) for i in range(3)])
  objective = objective_lib.BatchedObjective(g, graphs.unit_cluster(2, capacity=5.0))
  round_robin = np.array([0, 1, 0, 1, 0, 1, 0, 1])  # feasible (4 B each) and slow (many copies)
  costs = objective(np.stack([np.zeros(8, int), round_robin, np.array([0] * 6 + [1] * 2)]), np.zeros((3, 8)))
  assert costs[1] < objective.penalty < costs[2] < costs[0]  # 8 B overflows more than 6 B
  assert objective.evaluations == 3


def test_contiguous_splits_are_contiguous_in_topological_order():
  order = np.array([3, 0, 4, 1, 2])
  splits = search.contiguous_splits(np.random.default_rng(0), order, 20, 3)
  assert splits.min() >= 0 and splits.max() < 3
  changes = (np.diff(splits[:, order], axis=1) != 0).sum(axis=1)
  assert np.all(changes <= 2)
