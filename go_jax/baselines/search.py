"""Search baselines under GO's simulator budget: random, annealing, BRKGA, gradient.

Every method optimises placement and priority per node (fusion off) against
:class:`go_jax.baselines.objective.BatchedObjective`: the vectorized simulator's
step time, with OOM candidates ranked after every feasible one. Each gets
``problem.budget`` evaluations, one per decision vector simulated, counted
exactly; all are deterministic given ``problem.seed``. Colocation groups are
respected by construction: a node's device is always its group leader's
(``placement[..., leader]``), so a move of any member moves the whole group.

* ``random``: ``budget`` independent samples. Placements alternate between
  per-node uniform devices and random contiguous splits of the topological
  order (D - 1 uniform cut points, chunks on a random permutation of the
  devices); priorities alternate (in pairs) between equal (level order) and
  uniform integer levels in ``0..PRIORITY_LEVELS - 1``. Best sample wins.
* ``anneal``: starts from the best of the simple heuristics (contiguous,
  single device and, when known, the human expert; each start costs one
  evaluation). Each step evaluates a batch of proposals from the current
  state: move one node (its group) to another device, move a contiguous block
  of the topological order (length log-uniform in 1..N/D) to one device, move
  a random walk along consumer edges (a path of a layer or chain, length
  log-uniform in 1..min(N/D, 256)) to one device, or set a topological block's
  priority to a random level. The best proposal is accepted if
  it improves, else with Metropolis probability ``exp(-relative_loss / T)``,
  ``T`` decaying geometrically.
* ``brkga``: biased random-key GA as in REGAL (Paliwal et al., ICLR 2020)
  without the GNN: 2N keys in [0, 1) (device ``floor(key * D)``, priority
  ``floor(key * PRIORITY_LEVELS)``), elites copied, mutants fresh, children
  take each key from their elite parent with probability 0.7. The first
  generation's first chromosomes encode the heuristic starts of ``anneal``
  (warm start, equal priorities); the rest are uniform. Elites are not re-simulated (the simulator is deterministic); the
  last generation is truncated so exactly ``budget`` evaluations are spent.
* ``gradient``: Adam on per-node device logits (``P = softmax(logits)``)
  through the relaxed simulator :mod:`simulator.relaxed` (the exact in-order
  schedule with smooth maxima and mean-field expectations over ``P``; equal to
  the exact step time at one-hot ``P`` as its temperature goes to 0), plus an
  expected-memory penalty. Warm start: the best heuristic start of ``anneal``
  (its priorities fixed), logits ``init_logit * one_hot + noise``. Each round
  takes ``steps_per_round`` Adam steps at a smooth-max temperature annealed
  geometrically (a fraction of the start's step time), then simulates the
  argmax placement and ``samples_per_round`` categorical samples exactly. The
  logits restart from the best placement when a sample found it or after
  ``patience`` rounds without improvement. **Each relaxed gradient step
  counts as one evaluation** and each exact simulation as one, so
  ``evaluations == budget``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from go_jax import evaluation
from go_jax.baselines import objective as objective_lib
from go_jax.baselines import placement as placement_lib
from simulator import objectives
from simulator import relaxed
from simulator import types as sim_types

#: Integer priority levels the searches use (0 = level order; integer levels are exact).
PRIORITY_LEVELS = 4


@dataclasses.dataclass(frozen=True)
class RandomConfig:
  """Settings of :func:`random_search`."""

  batch_size: int = 32  # candidates per simulator call


@dataclasses.dataclass(frozen=True)
class AnnealConfig:
  """Settings of :func:`anneal` (move probabilities sum to <= 1; the rest are priority moves)."""

  batch_size: int = 32  # proposals per step
  start_temperature: float = 0.05  # relative loss accepted with probability 1/e at the start
  end_temperature: float = 1e-4
  node_move: float = 0.3  # move probabilities (the rest: priority moves)
  block_move: float = 0.25
  path_move: float = 0.25
  max_path: int = 256  # longest random walk of a path move, nodes


@dataclasses.dataclass(frozen=True)
class BrkgaConfig:
  """Settings of :func:`brkga` (REGAL's standard BRKGA parameters)."""

  population: int = 64
  elite_fraction: float = 0.25
  mutant_fraction: float = 0.15
  elite_bias: float = 0.7  # probability a child takes a key from its elite parent
  warm_start: bool = True  # first-generation chromosomes encode the heuristic starts


@dataclasses.dataclass(frozen=True)
class GradientConfig:
  """Settings of :func:`gradient`."""

  learning_rate: float = 0.05  # Adam step on the logits
  steps_per_round: int = 4  # relaxed Adam steps between exact evaluations
  samples_per_round: int = 0  # categorical samples simulated with the argmax each round
  init_logit: float = 2.0  # warm start: logit of the start device (the others 0)
  init_noise: float = 0.1  # std of the warm start's logit noise (symmetry breaking)
  start_smoothing: float = 1e-3  # smooth-max temperature, fraction of the best start's step time
  end_smoothing: float = 1e-5
  patience: int = 6  # rounds without improvement before restarting from the best placement


class _Best:
  """The best (lowest-cost) candidate seen so far; ties keep the earliest."""

  def __init__(self):
    self.cost = np.inf
    self.placement = None
    self.priority = None

  def update(self, costs: np.ndarray, placement: np.ndarray, priority: np.ndarray) -> None:
    i = int(np.argmin(costs))
    if costs[i] < self.cost:
      self.cost = float(costs[i])
      self.placement = np.array(placement[i], np.int32)
      self.priority = np.array(priority[i], np.float32)


def _output(objective: objective_lib.BatchedObjective, best: _Best, notes: str) -> evaluation.MethodOutput:
  n = objective.num_nodes
  decisions = sim_types.Decisions(best.placement, best.priority, np.zeros(n, bool))
  return evaluation.MethodOutput(decisions, objective.evaluations,
                                 f"{notes}; best penalised cost {best.cost * 1e3:.4g} ms")


def _heuristic_starts(problem: evaluation.Problem, leader: np.ndarray) -> list[np.ndarray]:
  """Distinct placements of the simple heuristics: contiguous, single device, expert if valid."""
  cost = objectives.node_times(problem.graph, problem.cluster).min(axis=1)
  starts = [placement_lib.contiguous(problem.graph, problem.num_devices, cost),
            placement_lib.single_device(problem.graph, problem.num_devices)]
  if problem.expert is not None:
    expert = np.asarray(problem.expert, np.int32)
    if expert.shape == (problem.graph.num_nodes,) and expert.min() >= 0 and expert.max() < problem.num_devices:
      starts.insert(0, expert)
  unique = []
  for start in starts:
    start = start[leader]
    if not any(np.array_equal(start, u) for u in unique):
      unique.append(start)
  return unique


def contiguous_splits(rng: np.random.Generator, order: np.ndarray, batch: int, num_devices: int) -> np.ndarray:
  """(batch, N) random contiguous splits of the topological ``order`` into D chunks.

  D - 1 cut points uniform in 0..N (sorted; empty chunks allowed); chunk k goes
  to device ``perm[k]`` of a random permutation.
  """
  n = order.size
  cuts = np.sort(rng.integers(0, n + 1, size=(batch, num_devices - 1)), axis=1)
  chunk = (np.arange(n)[None, :, None] >= cuts[:, None, :]).sum(axis=2)  # (B, N) chunk of position k
  perm = np.argsort(rng.random((batch, num_devices)), axis=1)
  placement = np.empty((batch, n), np.int32)
  placement[:, order] = np.take_along_axis(perm, chunk, axis=1)
  return placement


def random_search(problem: evaluation.Problem, config: RandomConfig | None = None) -> evaluation.MethodOutput:
  """Best of ``budget`` random (placement, priority) samples (see the module docstring)."""
  config = config or RandomConfig()
  objective = objective_lib.BatchedObjective(problem.graph, problem.cluster)
  rng = np.random.default_rng(problem.seed)
  n, d = objective.num_nodes, objective.num_devices
  order = problem.graph.topological_order
  best = _Best()
  done = 0
  while done < problem.budget:
    batch = min(config.batch_size, problem.budget - done)
    index = done + np.arange(batch)
    uniform = rng.integers(0, d, size=(batch, n), dtype=np.int32)
    split = contiguous_splits(rng, order, batch, d)
    placement = np.where((index % 2 == 0)[:, None], uniform, split)[:, objective.leader]
    levels = rng.integers(0, PRIORITY_LEVELS, size=(batch, n)).astype(np.float32)
    priority = np.where(((index // 2) % 2 == 1)[:, None], levels, 0.0).astype(np.float32)
    best.update(objective(placement, priority), placement, priority)
    done += batch
  return _output(objective, best, f"random search, {done} samples")


def _log_uniform_length(rng: np.random.Generator, size: int, high: int) -> np.ndarray:
  """(size,) ints in 1..high, log-uniform."""
  return np.minimum(np.exp(rng.random(size) * np.log(max(high, 1) + 1)).astype(np.int64), max(high, 1))


def consumer_lists(num_nodes: int, senders: np.ndarray, receivers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """CSR of consumers: node i's consumers are ``consumers[start[i]:start[i + 1]]``."""
  order = np.argsort(senders, kind="stable")
  start = np.searchsorted(senders[order], np.arange(num_nodes + 1))
  return start, receivers[order]


def _random_path(rng: np.random.Generator, first: int, length: int, csr: tuple[np.ndarray, np.ndarray]) -> list[int]:
  start, consumers = csr
  path = [first]
  while len(path) < length and start[path[-1] + 1] > start[path[-1]]:
    path.append(int(consumers[rng.integers(start[path[-1]], start[path[-1] + 1])]))
  return path


def propose(rng: np.random.Generator, placement: np.ndarray, priority: np.ndarray, order: np.ndarray,
            leader: np.ndarray, csr: tuple[np.ndarray, np.ndarray], num_devices: int, batch: int,
            config: AnnealConfig) -> tuple[np.ndarray, np.ndarray]:
  """(batch, N) neighbours of one (placement, priority) state (see the module docstring).

  Args:
    rng: the random generator.
    placement: (N,) int32 current placement (colocation applied).
    priority: (N,) float32 current priorities.
    order: (N,) topological order.
    leader: (N,) colocation leaders.
    csr: consumer lists (:func:`consumer_lists`).
    num_devices: D.
    batch: proposals to make.
    config: move probabilities.

  Returns:
    ``(placements, priorities)``, (batch, N) each, colocation applied.
  """
  n = placement.size
  placements = np.repeat(placement[None], batch, axis=0)
  priorities = np.repeat(priority[None], batch, axis=0)
  kind = rng.random(batch)
  position = rng.integers(0, n, size=batch)
  block_length = _log_uniform_length(rng, batch, n // max(num_devices, 1))
  path_length = _log_uniform_length(rng, batch, min(n // max(num_devices, 1), config.max_path))
  shift = rng.integers(1, max(num_devices, 2), size=batch)  # another device (when D > 1)
  level = rng.integers(0, PRIORITY_LEVELS, size=batch)
  node_end = config.node_move
  block_end = node_end + config.block_move
  path_end = block_end + config.path_move
  for b in range(batch):
    first = order[position[b]]
    device = (placement[first] + shift[b]) % num_devices
    if kind[b] < node_end:
      placements[b, leader[first]] = device
    elif kind[b] < block_end:
      placements[b, leader[order[position[b]:position[b] + block_length[b]]]] = device
    elif kind[b] < path_end:
      placements[b, leader[_random_path(rng, int(first), int(path_length[b]), csr)]] = device
    else:
      priorities[b, order[position[b]:position[b] + block_length[b]]] = level[b]
  return placements[:, leader], priorities


def anneal(problem: evaluation.Problem, config: AnnealConfig | None = None) -> evaluation.MethodOutput:
  """Simulated annealing with batched proposals from the best heuristic (see the module docstring)."""
  config = config or AnnealConfig()
  objective = objective_lib.BatchedObjective(problem.graph, problem.cluster)
  rng = np.random.default_rng(problem.seed)
  order = problem.graph.topological_order
  n, d = objective.num_nodes, objective.num_devices
  csr = consumer_lists(n, problem.graph.senders, problem.graph.receivers)
  starts = np.stack(_heuristic_starts(problem, objective.leader))[:problem.budget]
  zeros = np.zeros((len(starts), n), np.float32)
  costs = objective(starts, zeros)
  best = _Best()
  best.update(costs, starts, zeros)
  current = (best.placement, best.priority, best.cost)
  steps = accepted = 0
  total_steps = max(1, -(-(problem.budget - objective.evaluations) // config.batch_size))
  while objective.evaluations < problem.budget:
    batch = min(config.batch_size, problem.budget - objective.evaluations)
    placements, priorities = propose(rng, current[0], current[1], order, objective.leader, csr, d, batch, config)
    costs = objective(placements, priorities)
    best.update(costs, placements, priorities)
    i = int(np.argmin(costs))
    temperature = config.start_temperature * (config.end_temperature / config.start_temperature) ** (
        steps / max(total_steps - 1, 1))
    loss = (costs[i] - current[2]) / max(current[2], 1e-30)
    if loss < 0 or rng.random() < np.exp(-loss / temperature):
      current = (placements[i], priorities[i], float(costs[i]))
      accepted += 1
    steps += 1
  return _output(objective, best, f"annealing, {len(starts)} heuristic starts, {steps} steps, {accepted} accepted")


def decode_keys(keys: np.ndarray, leader: np.ndarray, num_devices: int) -> tuple[np.ndarray, np.ndarray]:
  """BRKGA decoder: (B, 2N) keys in [0, 1) -> (B, N) placements and priorities.

  Device of node i: ``floor(keys[:, i] * D)`` of its colocation leader;
  priority: ``floor(keys[:, N + i] * PRIORITY_LEVELS)``.
  """
  n = leader.size
  device = np.minimum((keys[:, :n] * num_devices).astype(np.int32), num_devices - 1)
  priority = np.minimum(np.floor(keys[:, n:] * PRIORITY_LEVELS), PRIORITY_LEVELS - 1).astype(np.float32)
  return device[:, leader], priority


def brkga(problem: evaluation.Problem, config: BrkgaConfig | None = None) -> evaluation.MethodOutput:
  """Biased random-key genetic algorithm over (device, priority) keys (see the module docstring)."""
  config = config or BrkgaConfig()
  objective = objective_lib.BatchedObjective(problem.graph, problem.cluster)
  rng = np.random.default_rng(problem.seed)
  n, d = objective.num_nodes, objective.num_devices
  size = min(config.population, problem.budget)
  num_elite = max(1, int(round(config.elite_fraction * config.population)))
  num_mutant = max(1, int(round(config.mutant_fraction * config.population)))
  keys = rng.random((size, 2 * n))
  if config.warm_start:
    starts = _heuristic_starts(problem, objective.leader)[:size]
    keys[:len(starts), :n] = (np.stack(starts) + 0.5) / d
    keys[:len(starts), n:] = 0.0
  best = _Best()

  def score(chromosomes):
    placement, priority = decode_keys(chromosomes, objective.leader, d)
    costs = objective(placement, priority)
    best.update(costs, placement, priority)
    return costs

  costs = score(keys)
  generations = 1
  while objective.evaluations < problem.budget:
    ranked = np.argsort(costs, kind="stable")
    elite, others = ranked[:num_elite], ranked[num_elite:]
    if others.size == 0:
      others = ranked
    num_children = max(config.population - num_elite - num_mutant, 0)
    mother = keys[elite[rng.integers(0, elite.size, size=num_children)]]
    father = keys[others[rng.integers(0, others.size, size=num_children)]]
    children = np.where(rng.random((num_children, 2 * n)) < config.elite_bias, mother, father)
    offspring = np.concatenate([rng.random((num_mutant, 2 * n)), children])
    offspring = offspring[:problem.budget - objective.evaluations]
    keys = np.concatenate([keys[elite], offspring])
    costs = np.concatenate([costs[elite], score(offspring)])
    generations += 1
  return _output(objective, best, f"BRKGA, population {config.population}, {generations} generations")


class SurrogateData(NamedTuple):
  """What the gradient baseline differentiates: the relaxed simulator plus a memory penalty (jax leaves)."""

  leader: jax.Array  # (N,) int32 colocation leader
  plan: relaxed.RelaxedPlan  # the graph, cluster and priorities of :mod:`simulator.relaxed`
  memory: jax.Array  # (N,) bytes: params + live fraction * output bytes
  capacity: jax.Array  # (D,) bytes
  penalty: jax.Array  # () seconds per unit of relative memory overflow


def relaxed_step_time(logits: jax.Array, data: SurrogateData, temperature: jax.Array) -> jax.Array:
  """Relaxed step time (seconds) of a soft placement plus an expected-memory penalty.

  With ``P = softmax(logits[leader])`` (N, D) (a colocation group shares its
  leader's row), the value is :func:`simulator.relaxed.relaxed_step_time`
  (the exact in-order schedule with smooth maxima and mean-field expectations;
  equal to the exact step time at one-hot ``P`` as ``temperature -> 0``) plus
  ``penalty * sum_d max(0, M_d - capacity_d) / sum_d capacity_d`` with the
  expected memory ``M = P^T memory`` (D,) bytes.

  Args:
    logits: (N, D) device logits (only leaders' rows matter).
    data: the graph's :class:`SurrogateData`.
    temperature: () seconds, the smooth-max temperature ``T``.

  Returns:
    () seconds.
  """
  prob = jax.nn.softmax(logits[data.leader], axis=-1)
  step_time = relaxed.relaxed_schedule(data.plan, prob, temperature).step_time
  memory = prob.T @ data.memory
  overflow = jnp.maximum(memory - data.capacity, 0.0).sum() / data.capacity.sum()
  return step_time + data.penalty * overflow


@functools.partial(jax.jit, static_argnames=("learning_rate",))
def surrogate_step(logits: jax.Array, opt_state, data: SurrogateData, temperature: jax.Array,
                   learning_rate: float):
  """One Adam step on the logits; returns (logits, opt_state, relaxed seconds before the step)."""
  value, grad = jax.value_and_grad(relaxed_step_time)(logits, data, temperature)
  updates, opt_state = optax.adam(learning_rate).update(grad, opt_state, logits)
  return optax.apply_updates(logits, updates), opt_state, value


def surrogate_data(problem: evaluation.Problem, leader: np.ndarray, priority: np.ndarray,
                   live_fraction: float, penalty: float) -> SurrogateData:
  """Builds the relaxed objective's arrays (float32; priorities fixed, fusion off).

  Args:
    problem: the problem (graph, cluster).
    leader: (N,) colocation leaders.
    priority: (N,) priorities the relaxed schedule orders nodes by.
    live_fraction: fraction of output bytes counted in the expected memory (:func:`live_fraction`).
    penalty: seconds per unit of relative memory overflow.
  """
  graph, cluster = problem.graph, problem.cluster
  f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
  return SurrogateData(
      leader=jnp.asarray(leader, jnp.int32), plan=relaxed.relaxed_plan(graph, cluster, priority, jnp.float32),
      memory=f32(graph.param_bytes + live_fraction * graph.output_bytes),
      capacity=f32(np.asarray(cluster.mem_capacity, np.float64)), penalty=f32(penalty))


def live_fraction(problem: evaluation.Problem, placement: np.ndarray, peak_memory: np.ndarray) -> float:
  """Fraction of output bytes live at the peak, measured on one simulated placement (in [0, 1])."""
  d = problem.num_devices
  params = np.bincount(placement, problem.graph.param_bytes, minlength=d)
  outputs = np.bincount(placement, problem.graph.output_bytes, minlength=d)
  fraction = (peak_memory - params) / np.maximum(outputs, 1.0)
  return float(np.clip(fraction[outputs > 0].max() if np.any(outputs > 0) else 0.0, 0.0, 1.0))


def _gumbel_samples(rng: np.random.Generator, logits: np.ndarray, count: int) -> np.ndarray:
  """(count, N) categorical samples of softmax(logits)."""
  return np.argmax(logits[None] + rng.gumbel(size=(count,) + logits.shape), axis=-1).astype(np.int32)


def _warm_logits(rng: np.random.Generator, placement: np.ndarray, num_devices: int, scale: float,
                 noise: float) -> jax.Array:
  """(N, D) float32 logits ``scale * one_hot(placement) + noise * standard normal``.

  The noise breaks the symmetry between interchangeable nodes (two identical
  chains on one device get identical gradients and would move together).
  """
  logits = scale * np.eye(num_devices)[placement] + noise * rng.standard_normal((placement.size, num_devices))
  return jnp.asarray(logits, jnp.float32)


def gradient(problem: evaluation.Problem, config: GradientConfig | None = None) -> evaluation.MethodOutput:
  """Adam on device logits through the relaxed simulator, warm-started, checked exactly (module docstring)."""
  config = config or GradientConfig()
  objective = objective_lib.BatchedObjective(problem.graph, problem.cluster)
  rng = np.random.default_rng(problem.seed)
  d = objective.num_devices
  leader = objective.leader
  best = _Best()
  starts = np.stack(_heuristic_starts(problem, leader))[:problem.budget]
  zeros = np.zeros(starts.shape, np.float32)
  costs, peaks = objective.detailed(starts, zeros)
  best.update(costs, starts, zeros)
  first = int(np.argmin(costs))
  # The best start also calibrates how much of the output bytes are live at the peak.
  data = surrogate_data(problem, leader, best.priority, live_fraction(problem, starts[first], peaks[first]),
                        objective.penalty)
  # Seconds the smoothing fractions refer to: the best start's step time (total work if it is OOM).
  scale = best.cost if best.cost < objective.penalty else float(
      objectives.node_times(problem.graph, problem.cluster).min(axis=1).sum())
  scale = max(scale, 1e-12)
  round_cost = config.steps_per_round + 1 + config.samples_per_round
  num_rounds = (problem.budget - objective.evaluations) // round_cost
  optimizer = optax.adam(config.learning_rate)
  params = _warm_logits(rng, best.placement, d, config.init_logit, config.init_noise)
  opt_state = optimizer.init(params)
  surrogate_steps = restarts = stale = 0
  found_by = {"argmax": 0, "sample": 0}  # improvements of the best, by candidate kind
  for r in range(num_rounds):
    fraction = config.start_smoothing * (config.end_smoothing / config.start_smoothing) ** (
        r / max(num_rounds - 1, 1))
    temperature = jnp.float32(fraction * scale)
    for _ in range(config.steps_per_round):
      params, opt_state, _ = surrogate_step(params, opt_state, data, temperature, config.learning_rate)
      objective.evaluations += 1  # a relaxed gradient step counts as one evaluation (conservative)
      surrogate_steps += 1
    logits = np.asarray(params)[leader]
    candidates = np.concatenate([np.argmax(logits, axis=-1)[None].astype(np.int32),
                                 _gumbel_samples(rng, logits, config.samples_per_round)])[:, leader]
    priority = np.repeat(best.priority[None], len(candidates), axis=0)
    previous = best.cost
    costs = objective(candidates, priority)
    best.update(costs, candidates, priority)
    improved = best.cost < previous
    if improved:
      found_by["argmax" if int(np.argmin(costs)) == 0 else "sample"] += 1
    stale = 0 if improved else stale + 1
    # Restart from the best placement when a sample (not the argmax) found it, or when the
    # relaxed descent has drifted without improving for `patience` rounds.
    if (improved and int(np.argmin(costs)) > 0) or stale >= config.patience:
      params = _warm_logits(rng, best.placement, d, config.init_logit, config.init_noise)
      opt_state = optimizer.init(params)
      restarts += 1
      stale = 0
  # Whatever budget a whole round no longer fits goes to samples around the last logits.
  left = problem.budget - objective.evaluations
  if left > 0:
    candidates = _gumbel_samples(rng, np.asarray(params)[leader], left)[:, leader]
    priority = np.repeat(best.priority[None], left, axis=0)
    best.update(objective(candidates, priority), candidates, priority)
  return _output(objective, best, f"gradient, {len(starts)} heuristic starts, {num_rounds} rounds, "
                                  f"{surrogate_steps} relaxed steps (each counted as one evaluation), "
                                  f"{restarts} restarts, improvements by argmax {found_by['argmax']} / "
                                  f"sample {found_by['sample']}")


METHODS: dict[str, Callable[[evaluation.Problem], evaluation.MethodOutput]] = {
    "random": random_search,
    "anneal": anneal,
    "brkga": brkga,
    "gradient": gradient,
}
