"""One jitted PPO iteration of GO: sample, simulate, reward, update.

:func:`train_iteration` is the whole step, compiled once per graph bucket:

1. sample ``K`` decision vectors for each of the ``G`` graphs of a
   :class:`GraphBatch` (``B = G * K`` rows) with
   :func:`go_jax.models.policy.sample_graphs`, which encodes each graph once
   and runs only the action-dependent task layers per vector;
2. map them to simulator decisions (:func:`to_sim_decisions`: colocation
   groups follow their leader, priority levels become priorities, fusion
   requests become bools; a task the policy does not decide takes the
   graph's ``GraphBatch.base`` decisions) and score them with
   :func:`simulator.simulate_batch`;
3. reward them (:mod:`go_jax.rl.rewards`), subtract a per-graph baseline (the
   mean reward of the graph's ``K`` samples, or the value head), and track the
   best decisions found so far per graph;
4. run ``num_epochs`` x ``num_minibatches`` Adam steps on
   :func:`go_jax.rl.losses.ppo_loss` (``lax.scan``; a minibatch is every graph
   with a shuffled K / num_minibatches of its vectors).

The host loop (:mod:`go_jax.rl.train`) only logs and checkpoints.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax

from go_jax.baselines import objective as objective_lib
from go_jax.graph import features
from go_jax.graph import graph as graph_lib
from go_jax.models import config as model_config
from go_jax.models import policy
from go_jax.rl import losses
from go_jax.rl import rewards
from go_jax.rl import symmetry
import simulator
from simulator import cluster as cluster_lib


class IterationConfig(NamedTuple):
  """Static hyper-parameters of one iteration (hashable).

  Attributes:
    num_samples: decision vectors sampled per graph per iteration (K).
    num_epochs: passes over the B = G * K samples.
    num_minibatches: minibatches per epoch (must divide K); each one costs one
      encoder + trunk pass per graph, plus the later task layers per vector.
    baseline: ``"mean"`` (mean reward of the graph's K samples) or ``"value"``.
    entropy_start: entropy bonus weight at iteration 0.
    entropy_end: entropy bonus weight after ``entropy_decay_iterations``.
    entropy_decay_iterations: length of the linear decay (0: constant ``entropy_start``).
    learning_rate: Adam step size.
    max_grad_norm: gradients are clipped to this global norm.
    loss: the PPO loss hyper-parameters.
    reward: the OOM rule.
    canonical_devices: replace every sampled placement by its canonical labeling
      (:mod:`go_jax.rl.symmetry`) before simulating and learning from it; the
      batch must carry the cluster's relabelings (``make_graph_batch(...,
      canonical_devices=True)``).
  """

  num_samples: int = 16
  num_epochs: int = 4
  num_minibatches: int = 4
  baseline: str = "mean"
  entropy_start: float = 1e-2
  entropy_end: float = 1e-3
  entropy_decay_iterations: int = 200
  learning_rate: float = 1e-3
  max_grad_norm: float = 1.0
  loss: losses.LossConfig = losses.LossConfig()
  reward: rewards.RewardConfig = rewards.RewardConfig()
  canonical_devices: bool = False


class GraphBatch(NamedTuple):
  """G graphs padded to one bucket (Np nodes) on one cluster (D devices), as jit inputs.

  Attributes:
    graphs: policy inputs, :func:`go_jax.graph.features.to_graphs_tuple` stacked ((G, ...) leaves).
    sim_graphs: simulator inputs, :class:`simulator.SimGraph` with (G, Np) / (G, Ep) leaves.
    cluster: the cluster (jax leaves).
    num_devices: (G,) int32 devices placements may use (the first ones).
    node_mask: (G, Np) bool, real nodes.
    leader: (G, Np) int32, the node whose device each node takes (colocation).
    reference_step_time: (G,) seconds, :func:`go_jax.rl.rewards.reference_step_time`.
    upper_bound: (G,) seconds above any step time (ranks OOM samples after feasible ones).
    base: simulator decisions with (G, Np) leaves for the tasks the policy does not decide
      (e.g. the expert placement when GO decides scheduling only); default one device, equal
      priorities, no fusion.
    device_group: (G, S, D) int32 relabelings of each graph's devices that leave the cluster
      unchanged (:func:`go_jax.rl.symmetry.device_automorphisms`); (G, 1, D) identity when
      the batch was built without ``canonical_devices``.
  """

  graphs: jraph.GraphsTuple
  sim_graphs: simulator.SimGraph
  cluster: cluster_lib.Cluster
  num_devices: jax.Array
  node_mask: jax.Array
  leader: jax.Array
  reference_step_time: jax.Array
  upper_bound: jax.Array
  base: simulator.Decisions
  device_group: jax.Array


@flax.struct.dataclass
class TrainState:
  """Everything that changes during training (an immutable pytree; checkpointed whole).

  Attributes:
    params: policy parameters.
    opt_state: optax state.
    rng: (2,) uint32 PRNG key.
    step: () int32 iterations done.
    evaluations: () int32 decision vectors simulated so far.
    best_cost: (G,) float32 seconds, best step time (OOM: upper bound x (1 + overflow)).
    best_step_time: (G,) float32 seconds, step time of the best decisions (inf before any sample).
    best_oom: (G,) bool, whether the best decisions run out of memory.
    best_decisions: simulator decisions with (G, Np) leaves (int32, float32, bool).
    best_iteration: () int32 last iteration that improved some graph's best cost.
  """

  params: Any
  opt_state: Any
  rng: jax.Array
  step: jax.Array
  evaluations: jax.Array
  best_cost: jax.Array
  best_step_time: jax.Array
  best_oom: jax.Array
  best_decisions: simulator.Decisions
  best_iteration: jax.Array


def make_graph_batch(graphs: Sequence[graph_lib.ComputationGraph], cluster: cluster_lib.Cluster,
                     num_devices: int | Sequence[int], reference_step_times: Sequence[float],
                     num_nodes: int | None = None, num_edges: int | None = None,
                     base: Sequence[simulator.Decisions | None] | None = None,
                     canonical_devices: bool = False,
                     memory_needs: Sequence[tuple[float, float]] | None = None) -> GraphBatch:
  """Pads ``graphs`` to one bucket and builds the jit inputs (host side, numpy).

  Args:
    graphs: G graphs.
    cluster: the cluster (numpy leaves), at most the network's ``max_devices`` devices.
    num_devices: devices placements may use (the first ones): one count for
      every graph, or (G,) counts.
    reference_step_times: G seconds, one per graph.
    num_nodes: padded node count Np (> every N; default: the largest graph's bucket).
      Fixed sizes let every batch of a bucket share one compilation (pretraining).
    num_edges: padded edge count Ep (>= every E; default: the largest graph's bucket).
    base: per graph, (N,) decisions for the tasks the policy does not decide
      (:attr:`GraphBatch.base`); None: one device, equal priorities, no fusion.
    canonical_devices: carry each graph's device relabelings (``IterationConfig.canonical_devices``).
    memory_needs: per graph, the bytes it needs on one device, unfused and fused
      (:class:`go_jax.rl.rewards.MemoryNeed`), for the policy's cluster context
      (``globals["cluster"]``); None: the context's memory columns are marked unknown.
  """
  if base is not None and len(base) != len(graphs):
    raise ValueError(f"base has {len(base)} entries for {len(graphs)} graphs")
  if memory_needs is not None and len(memory_needs) != len(graphs):
    raise ValueError(f"memory_needs has {len(memory_needs)} entries for {len(graphs)} graphs")
  if num_nodes is None:
    num_nodes = max(features.bucket_size(g.num_nodes + 1) for g in graphs)
  if num_edges is None:
    num_edges = max(features.bucket_size(g.num_edges) for g in graphs)
  policy_graphs, sim_graphs, leaders, masks, bases = [], [], [], [], []
  jax_cluster = None
  counts = np.broadcast_to(np.asarray(num_devices, np.int32), (len(graphs),)).copy()
  if canonical_devices:
    groups = {int(n): symmetry.device_automorphisms(cluster, int(n)) for n in set(counts.tolist())}
    device_group = np.stack([groups[int(n)] for n in counts])
  else:
    device_group = np.tile(np.arange(cluster.num_devices, dtype=np.int32), (len(graphs), 1, 1))
  capacity = np.asarray(cluster.mem_capacity, np.float64)
  for index, graph in enumerate(graphs):
    context = features.cluster_features(
        int(counts[index]), float(capacity[: counts[index]].min()),
        None if memory_needs is None else memory_needs[index])
    policy_graphs.append(features.to_graphs_tuple(graph, num_nodes, num_edges, context))
    sim_graph, jax_cluster = simulator.prepare(graph, cluster, num_nodes, num_edges)
    sim_graphs.append(jax.tree.map(np.asarray, sim_graph))
    leader = np.arange(num_nodes, dtype=np.int32)
    leader[: graph.num_nodes] = objective_lib.colocation_leader(graph)
    leaders.append(leader)
    masks.append(np.arange(num_nodes) < graph.num_nodes)
    bases.append(_pad_decisions(None if base is None else base[index], graph.num_nodes, num_nodes))
  return GraphBatch(
      graphs=policy.stack_graphs(policy_graphs),
      sim_graphs=jax.tree.map(lambda *leaves: np.stack(leaves), *sim_graphs),
      cluster=jax_cluster,
      num_devices=counts,
      node_mask=np.stack(masks),
      leader=np.stack(leaders),
      reference_step_time=np.asarray(reference_step_times, np.float32),
      upper_bound=np.asarray([objective_lib.step_time_upper_bound(g, cluster) for g in graphs], np.float32),
      base=jax.tree.map(lambda *leaves: np.stack(leaves), *bases),
      device_group=device_group)


def _pad_decisions(decisions: simulator.Decisions | None, num_real: int, num_nodes: int) -> simulator.Decisions:
  """(N,) decisions (None: all zero) -> (Np,) numpy decisions, padding zero."""
  padded = simulator.Decisions(np.zeros(num_nodes, np.int32), np.zeros(num_nodes, np.float32),
                               np.zeros(num_nodes, bool))
  if decisions is not None:
    for field, value in zip(padded, decisions):
      value = np.asarray(value)
      if value.shape != (num_real,):
        raise ValueError(f"base decisions have shape {value.shape}, expected ({num_real},)")
      field[:num_real] = value
  return padded


def make_optimizer(config: IterationConfig) -> optax.GradientTransformation:
  """Adam after global-norm gradient clipping (rebuilt from the hashable config inside jit)."""
  return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate))


def init_state(network: policy.PolicyNetwork, config: IterationConfig, batch: GraphBatch,
               seed: int) -> TrainState:
  """A fresh state: parameters from ``seed``, no best decisions yet."""
  init_rng, rng = jax.random.split(jax.random.PRNGKey(seed))
  one_graph = jax.tree.map(lambda x: x[0], batch.graphs)
  params = policy.init_params(network, init_rng, one_graph)
  num_graphs, num_nodes = batch.node_mask.shape
  return TrainState(
      params=params, opt_state=make_optimizer(config).init(params), rng=rng, step=jnp.int32(0), evaluations=jnp.int32(0),
      best_cost=jnp.full(num_graphs, jnp.inf, jnp.float32),
      best_step_time=jnp.full(num_graphs, jnp.inf, jnp.float32),
      best_oom=jnp.zeros(num_graphs, bool),
      best_decisions=simulator.Decisions(jnp.zeros((num_graphs, num_nodes), jnp.int32),
                                         jnp.zeros((num_graphs, num_nodes), jnp.float32),
                                         jnp.zeros((num_graphs, num_nodes), bool)),
      best_iteration=jnp.int32(0))


def entropy_coef(step: jax.Array, config: IterationConfig) -> jax.Array:
  """() entropy weight: linear from ``entropy_start`` to ``entropy_end``, then constant."""
  if config.entropy_decay_iterations <= 0:
    return jnp.float32(config.entropy_start)
  return optax.linear_schedule(config.entropy_start, config.entropy_end, config.entropy_decay_iterations)(step)


def to_sim_decisions(actions: policy.Decisions, leader: jax.Array, base: simulator.Decisions | None = None,
                     tasks: Sequence[str] = ()) -> simulator.Decisions:
  """Policy actions -> simulator decisions (any leading shape; the last axis is Np).

  Colocated nodes take their group leader's device; the priority level is
  the priority (higher runs earlier); fusion 1 requests fusion. With
  ``base`` (leaves broadcastable to the actions), every task not in
  ``tasks`` takes ``base``'s decisions instead of the policy's (zeros).
  """
  decisions = simulator.Decisions(placement=jnp.take_along_axis(actions.placement, leader, axis=-1),
                                  priority=actions.priority.astype(jnp.float32),
                                  fusion=actions.fusion.astype(bool))
  if base is None:
    return decisions
  decided = (task in tasks for task in model_config.ALL_TASKS)  # the order of simulator.Decisions
  return simulator.Decisions(*(jnp.broadcast_to(jnp.asarray(fixed, own.dtype), own.shape) if not keep else own
                               for keep, own, fixed in zip(decided, decisions, base)))


def canonical_actions(batch: GraphBatch, actions: policy.Decisions) -> policy.Decisions:
  """(G, K, Np) actions with every placement replaced by its canonical labeling (:mod:`go_jax.rl.symmetry`)."""
  per_vector = jax.vmap(symmetry.canonical_placement, in_axes=(0, None, None, None, None))  # over K
  placement = jax.vmap(per_vector)(actions.placement, batch.leader, batch.graphs.nodes["topo_rank"],
                                   batch.node_mask, batch.device_group)
  return actions._replace(placement=placement)


def simulate(batch: GraphBatch, decisions: simulator.Decisions, graph_index: jax.Array) -> simulator.SimResult:
  """Simulates (R, Np) decisions, row r on graph ``graph_index[r]`` (R,); results have (R,) leaves."""
  num_graphs = batch.node_mask.shape[0]
  if num_graphs == 1:  # static: one graph, the cheaper unbatched-graph path
    return simulator.simulate_batch(jax.tree.map(lambda x: x[0], batch.sim_graphs), batch.cluster, decisions)
  sim_graphs = jax.tree.map(lambda x: x[graph_index], batch.sim_graphs)
  return simulator.simulate_batch(sim_graphs, batch.cluster, decisions, batched_graphs=True)


def selection_cost(batch: GraphBatch, result: simulator.SimResult, rows: jax.Array) -> jax.Array:
  """(R,) seconds that rank decision vectors for "best": feasible before OOM, then by step time.

  An OOM row costs its graph's upper bound x (1 + overflow fraction), above any feasible step time.
  """
  oom = jnp.any(result.oom, axis=-1)
  overflow = rewards.overflow_fraction(result.peak_memory, batch.cluster.mem_capacity)
  return jnp.where(oom, batch.upper_bound[rows] * (1.0 + overflow), result.step_time)


@jax.jit
def record_best(state: TrainState, batch: GraphBatch, decisions: simulator.Decisions) -> TrainState:
  """Scores one (G, Np) decision vector per graph and keeps it where it beats the best so far.

  Counts G evaluations. Used to enter the policy's argmax after imitation
  (:mod:`go_jax.rl.imitation`) as GO-one's first best.
  """
  num_graphs = batch.node_mask.shape[0]
  rows = jnp.arange(num_graphs)
  result = simulate(batch, decisions, rows)
  cost = selection_cost(batch, result, rows)
  improved = cost < state.best_cost

  def keep(new, old):
    return jnp.where(improved.reshape((-1,) + (1,) * (old.ndim - 1)), new, old)

  return state.replace(
      evaluations=state.evaluations + num_graphs, best_cost=keep(cost, state.best_cost),
      best_step_time=keep(result.step_time, state.best_step_time),
      best_oom=keep(jnp.any(result.oom, axis=-1), state.best_oom),
      best_decisions=jax.tree.map(keep, decisions, state.best_decisions))


def _rows(batch: GraphBatch, num_samples: int) -> jax.Array:
  """(G * K,) graph index of each sample row: graph-major."""
  return jnp.repeat(jnp.arange(batch.node_mask.shape[0]), num_samples)


def minibatch_step(carry: tuple[Any, Any], minibatch: losses.Transitions, *, network: policy.PolicyNetwork,
                   optimizer: optax.GradientTransformation, config: IterationConfig,
                   entropy_weight: jax.Array) -> tuple[tuple[Any, Any], dict[str, jax.Array]]:
  """One Adam step on one minibatch: ``(params, opt_state) -> (params, opt_state), metrics``.

  ``minibatch`` holds every graph and K / num_minibatches of its vectors
  ((G, k, Np) actions), so each graph is encoded once per step.
  """
  params, opt_state = carry
  evaluate_fn = functools.partial(policy.evaluate_graphs, network)
  grads, metrics = jax.grad(losses.ppo_loss, has_aux=True)(params, minibatch, config.loss, evaluate_fn,
                                                           entropy_weight)
  updates, opt_state = optimizer.update(grads, opt_state, params)
  params = optax.apply_updates(params, updates)
  metrics["grad_norm"] = optax.tree.norm(grads)
  return (params, opt_state), metrics


def split_minibatches(transitions: losses.Transitions, key: jax.Array,
                      num_minibatches: int) -> losses.Transitions:
  """Shuffles the K vectors of every graph and cuts them into minibatches.

  Args:
    transitions: (G, K, ...) per-vector fields; graphs, num_devices and
      node_mask are per graph.
    key: PRNG key of the shuffle (one permutation of K shared by all graphs).
    num_minibatches: M, must divide K.

  Returns:
    Transitions whose per-vector fields are (M, G, K / M, ...) and whose
    per-graph fields are unchanged (the scan closes over them).
  """
  num_vectors = transitions.advantage.shape[1]
  permutation = jax.random.permutation(key, num_vectors)

  def cut(x):  # (G, K, ...) -> (M, G, K / M, ...)
    x = x[:, permutation].reshape((x.shape[0], num_minibatches, -1) + x.shape[2:])
    return jnp.moveaxis(x, 1, 0)

  return transitions._replace(actions=jax.tree.map(cut, transitions.actions),
                              old_log_prob=cut(transitions.old_log_prob),
                              advantage=cut(transitions.advantage), returns=cut(transitions.returns))


def sgd_epoch(carry: tuple[Any, Any], key: jax.Array, *, transitions: losses.Transitions,
              network: policy.PolicyNetwork, optimizer: optax.GradientTransformation, config: IterationConfig,
              entropy_weight: jax.Array) -> tuple[tuple[Any, Any], dict[str, jax.Array]]:
  """One pass over the shuffled vectors in ``num_minibatches`` steps; metrics (M,) each."""
  shuffled = split_minibatches(transitions, key, config.num_minibatches)
  per_vector = (shuffled.actions, shuffled.old_log_prob, shuffled.advantage, shuffled.returns)
  step = functools.partial(minibatch_step, network=network, optimizer=optimizer, config=config,
                           entropy_weight=entropy_weight)

  def scan_step(inner_carry, fields):
    actions, old_log_prob, advantage, returns = fields
    minibatch = transitions._replace(actions=actions, old_log_prob=old_log_prob, advantage=advantage,
                                     returns=returns)
    return step(inner_carry, minibatch)

  return jax.lax.scan(scan_step, carry, per_vector)


@functools.partial(jax.jit, static_argnames=("network", "config"))
def train_iteration(state: TrainState, batch: GraphBatch, *, network: policy.PolicyNetwork,
                    config: IterationConfig) -> tuple[TrainState, dict[str, jax.Array]]:
  """Samples, simulates and updates once (module docstring); jitted.

  ``network`` and ``config`` are static and hashable by value, so every call
  with equal ones (and the same bucket shapes) reuses one compilation. The
  policy encodes each graph once per sampling pass and once per minibatch
  step, whatever K is (:func:`go_jax.models.policy.sample_graphs`).

  Returns:
    The new state and () float32 metrics: ``reward_mean``/``reward_max``,
    ``step_time_mean``/``step_time_min`` (s, over samples), ``oom_fraction``,
    ``best_step_time`` (s, mean over graphs), ``best_speedup`` (reference /
    best, mean over graphs), ``entropy_coef``, ``evaluations``, and the
    means over all minibatch steps of :func:`go_jax.rl.losses.ppo_loss`'s
    metrics and ``grad_norm``.
  """
  optimizer = make_optimizer(config)
  num_graphs = batch.node_mask.shape[0]
  num_samples = config.num_samples
  num_rows = num_graphs * num_samples
  if num_samples % config.num_minibatches:
    raise ValueError(f"num_minibatches {config.num_minibatches} does not divide num_samples {num_samples}")
  rng, sample_key, epoch_key = jax.random.split(state.rng, 3)
  rows = _rows(batch, num_samples)
  output = policy.sample_graphs(network, state.params, batch.graphs, batch.num_devices, sample_key,
                                num_samples)  # (G, K, Np) leaves, value (G,)
  actions, log_prob = output.actions, output.log_prob
  if config.canonical_devices:  # learn the canonical labeling: its log-probability, not the sample's
    actions = canonical_actions(batch, actions)
    log_prob = policy.evaluate_graphs(network, state.params, batch.graphs, batch.num_devices, actions).log_prob

  flat_actions = jax.tree.map(lambda x: x.reshape((num_rows,) + x.shape[2:]), actions)
  decisions = to_sim_decisions(flat_actions, batch.leader[rows], jax.tree.map(lambda x: x[rows], batch.base),
                               network.tasks)
  result = simulate(batch, decisions, rows)
  reference = batch.reference_step_time[rows]
  oom = jnp.any(result.oom, axis=-1)
  overflow = rewards.overflow_fraction(result.peak_memory, batch.cluster.mem_capacity)
  reward = rewards.reward(result.step_time, oom, overflow, reference, config.reward)  # (B,)
  reward_by_graph = reward.reshape(num_graphs, num_samples)

  if config.baseline == "mean":
    baseline = reward_by_graph.mean(axis=1, keepdims=True)
  elif config.baseline == "value":
    baseline = output.value[:, None]
  else:
    raise ValueError(f"unknown baseline {config.baseline!r} (use 'mean' or 'value')")
  transitions = losses.Transitions(
      graphs=batch.graphs, num_devices=batch.num_devices, node_mask=batch.node_mask[:, None, :],
      actions=actions, old_log_prob=policy.joint_log_prob(log_prob),
      advantage=reward_by_graph - baseline, returns=reward_by_graph)

  cost = selection_cost(batch, result, rows).reshape(num_graphs, num_samples)
  winner = jnp.argmin(cost, axis=1)  # (G,)
  winner_row = jnp.arange(num_graphs) * num_samples + winner
  improved = cost[jnp.arange(num_graphs), winner] < state.best_cost  # (G,)

  def keep_best(new, old):  # new (B, ...) rows, old (G, ...)
    chosen = new[winner_row]
    return jnp.where(improved.reshape((-1,) + (1,) * (old.ndim - 1)), chosen, old)

  entropy_weight = entropy_coef(state.step, config)
  epoch = functools.partial(sgd_epoch, transitions=transitions, network=network, optimizer=optimizer,
                            config=config, entropy_weight=entropy_weight)
  (params, opt_state), loss_metrics = jax.lax.scan(
      epoch, (state.params, state.opt_state), jax.random.split(epoch_key, config.num_epochs))

  new_state = state.replace(
      params=params, opt_state=opt_state, rng=rng, step=state.step + 1,
      evaluations=state.evaluations + num_rows,
      best_cost=keep_best(cost.reshape(-1), state.best_cost),
      best_step_time=keep_best(result.step_time, state.best_step_time),
      best_oom=keep_best(oom, state.best_oom),
      best_decisions=jax.tree.map(keep_best, decisions, state.best_decisions),
      best_iteration=jnp.where(jnp.any(improved), state.step + 1, state.best_iteration))
  metrics = {name: value.mean() for name, value in loss_metrics.items()}
  metrics.update({
      "reward_mean": reward.mean(),
      "reward_max": reward.max(),
      "step_time_mean": result.step_time.mean(),
      "step_time_min": result.step_time.min(),
      "oom_fraction": oom.mean(),
      "best_step_time": new_state.best_step_time.mean(),
      "best_speedup": (batch.reference_step_time / new_state.best_step_time).mean(),
      "entropy_coef": entropy_weight,
      "evaluations": new_state.evaluations.astype(jnp.float32),
  })
  return new_state, metrics


@functools.partial(jax.jit, static_argnames=("network",))
def greedy_decisions(params: Any, batch: GraphBatch, network: policy.PolicyNetwork) -> simulator.Decisions:
  """The policy's most likely decisions for each graph, as simulator decisions with (G, Np) leaves."""
  output = policy.greedy_batch(network, params, batch.graphs, batch.num_devices)
  return to_sim_decisions(output.actions, batch.leader, batch.base, network.tasks)

