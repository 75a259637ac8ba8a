"""Applying a trained GO policy: loading, zero-shot decisions, fine-tuning, the ``go`` method.

:func:`load_policy` rebuilds the network from a run directory's
``config.json`` and restores the parameters of its latest orbax checkpoint.
It reads both layouts that share that directory structure: GO-one runs
(:mod:`go_jax.rl.train`, a ``TrainState``) and pretraining runs
(:mod:`go_jax.rl.pretrain`, a ``PretrainState``); only ``params`` is used.
With no directory it loads the policy shipped in ``go_jax/pretrained/``.

:func:`zero_shot` is one jitted greedy forward pass (no simulation): the most
likely device, priority and fusion of every node. :func:`finetune` continues
PPO on one graph from the pretrained parameters with the shared
:func:`go_jax.rl.iteration.train_iteration`.

:data:`METHODS` registers ``go`` (zero-shot, 0 simulator evaluations) for
:func:`go_jax.evaluation.evaluate`; the checkpoint is ``problem.checkpoint``
when the problem has one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from typing import Any, Callable, NamedTuple

from absl import logging
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from go_jax import errors
from go_jax import evaluation
from go_jax.baselines import objective as objective_lib
from go_jax.graph import features
from go_jax.graph import graph as graph_lib
from go_jax.models import policy
from go_jax.rl import iteration
from go_jax.rl import rewards
from go_jax.rl import train
import simulator
from simulator import cluster as cluster_lib

#: The policy shipped with the package (``go_jax/pretrained/``; see its README.md).
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")


@dataclasses.dataclass(frozen=True)
class PretrainedPolicy:
  """A trained policy ready to apply.

  Attributes:
    network: the policy network (static, hashable).
    params: its parameters (numpy leaves).
    config: the run's config (``config.json``).
    path: the run directory.
    step: the iteration of the restored checkpoint.
  """

  network: policy.PolicyNetwork
  params: Any
  config: ml_collections.ConfigDict
  path: str
  step: int


def load_policy(path: str | None = None) -> PretrainedPolicy:
  """Loads the latest checkpoint of a GO-one or pretraining run directory (default: the shipped one).

  Raises:
    errors.InputError: one line when ``path`` is not a run directory with a checkpoint.
  """
  path = os.path.abspath(path or SHIPPED_DIR)
  return _load_policy_cached(path, _mtime(os.path.join(path, "checkpoints")))


def fingerprint(path: str | None = None) -> str:
  """16 hex digits of SHA-256 over a run directory's ``config.json`` and its latest checkpoint's files.

  Stored result rows of the ``go`` method are keyed by it (``experiments/evaluate_lib.py``), so
  replacing the shipped policy (``path=None``) invalidates them instead of leaving them stale.

  Raises:
    errors.InputError: when ``path`` has no ``config.json`` or no numbered checkpoint.
  """
  path = os.path.abspath(path or SHIPPED_DIR)
  config_path = os.path.join(path, "config.json")
  checkpoint_dir = os.path.join(path, "checkpoints")
  steps = [int(n) for n in os.listdir(checkpoint_dir) if n.isdigit()] if os.path.isdir(checkpoint_dir) else []
  if not os.path.exists(config_path) or not steps:
    raise errors.InputError(f"{path}: not a GO run directory with a checkpoint (config.json, checkpoints/<step>/)")
  digest = hashlib.sha256()
  latest = os.path.join(checkpoint_dir, str(max(steps)))
  files = [config_path] + sorted(os.path.join(root, name) for root, _, names in os.walk(latest) for name in names)
  for file in files:
    digest.update(os.path.relpath(file, path).encode() + b"\0")
    with open(file, "rb") as f:
      digest.update(f.read())
  return digest.hexdigest()[:16]


def _mtime(path: str) -> float:
  try:
    return os.stat(path).st_mtime
  except OSError:
    return 0.0


@functools.lru_cache(maxsize=4)
def _load_policy_cached(path: str, mtime: float) -> PretrainedPolicy:
  del mtime  # part of the cache key: a directory that gained checkpoints is read again
  config_path = os.path.join(path, "config.json")
  if not os.path.exists(config_path):
    raise errors.InputError(f"{path}: not a GO run directory (no config.json)")
  try:
    with open(config_path) as f:
      config = ml_collections.ConfigDict(json.load(f))
  except json.JSONDecodeError as e:
    raise errors.InputError(f"{config_path}: invalid JSON at line {e.lineno}: {e.msg}") from None
  try:
    network = train.make_network(config)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    raise errors.InputError(f"{config_path}: not a GO training config ({e})") from None
  checkpoint_dir = os.path.join(path, "checkpoints")
  if not os.path.isdir(checkpoint_dir):
    raise errors.InputError(f"{path}: no checkpoints/ folder")
  with ocp.CheckpointManager(checkpoint_dir) as manager:
    step = manager.latest_step()
    if step is None:
      raise errors.InputError(f"{checkpoint_dir}: no checkpoint")
    restored = manager.restore(step, args=ocp.args.StandardRestore())
  params = restored["params"] if isinstance(restored, dict) else restored.params
  params = jax.tree.map(np.asarray, params)
  return PretrainedPolicy(network=network, params=params, config=config, path=path, step=int(step))


def placement_devices(cluster: cluster_lib.Cluster, network: policy.PolicyNetwork) -> int:
  """Devices the policy places on: the cluster's accelerators, at most the network's ``max_devices``."""
  devices = evaluation.Problem(graph=None, cluster=cluster).placement_cluster.num_devices  # type: ignore[arg-type]
  if devices > network.max_devices:
    logging.warning("cluster %s has %d devices but the policy places on at most %d", cluster.name, devices,
                    network.max_devices)
  return min(devices, network.max_devices)


@functools.partial(jax.jit, static_argnames=("network",))
def _greedy(params: Any, graphs: Any, num_devices: jax.Array, leader: jax.Array,
            network: policy.PolicyNetwork) -> simulator.Decisions:
  """Greedy simulator decisions (Np,) of one padded graph."""
  output = policy.greedy(network, params, graphs, num_devices)
  return iteration.to_sim_decisions(output.actions, leader)


class GreedyInputs(NamedTuple):
  """What one greedy forward pass of a pretrained policy reads (Np = the node bucket, >= N + 1).

  Attributes:
    graphs: the padded ``jraph.GraphsTuple`` of the graph (:func:`go_jax.graph.features.to_graphs_tuple`).
    num_devices: () int32, devices the placement head chooses among.
    leader: (Np,) int32 colocation leader of every node (padding nodes lead themselves).
    num_nodes: N, real nodes.
  """

  graphs: Any
  num_devices: np.ndarray
  leader: np.ndarray
  num_nodes: int


def greedy_inputs(pretrained: PretrainedPolicy, graph: graph_lib.ComputationGraph,
                  cluster: cluster_lib.Cluster) -> GreedyInputs:
  """The host-side half of :func:`zero_shot`: padded features, device count and colocation leaders.

  Nothing is simulated, except, for a network with ``model.cluster_context``,
  two single-device simulations for the graph's memory need (:func:`rewards.memory_need`).
  """
  num_devices = placement_devices(cluster, pretrained.network)
  num_nodes = features.bucket_size(graph.num_nodes + 1)
  context = None
  if pretrained.network.cluster_context:
    capacity = float(np.min(np.asarray(cluster.mem_capacity)[:num_devices]))
    context = features.cluster_features(num_devices, capacity,
                                        rewards.memory_need(graph, cluster, num_devices))
  graphs = features.to_graphs_tuple(graph, num_nodes, cluster=context)
  leader = np.arange(num_nodes, dtype=np.int32)
  leader[: graph.num_nodes] = objective_lib.colocation_leader(graph)
  return GreedyInputs(graphs, np.int32(num_devices), leader, graph.num_nodes)


def greedy_decisions(pretrained: PretrainedPolicy, inputs: GreedyInputs) -> simulator.Decisions:
  """The device half of :func:`zero_shot`: one jitted greedy forward pass, cut to the N real nodes (numpy)."""
  decisions = _greedy(pretrained.params, inputs.graphs, inputs.num_devices, inputs.leader,
                      network=pretrained.network)
  n = inputs.num_nodes
  return simulator.Decisions(np.asarray(decisions.placement[:n], np.int32),
                             np.asarray(decisions.priority[:n], np.float64),
                             np.asarray(decisions.fusion[:n], bool))


def zero_shot(pretrained: PretrainedPolicy, graph: graph_lib.ComputationGraph,
              cluster: cluster_lib.Cluster) -> simulator.Decisions:
  """The policy's most likely decisions for ``graph`` on ``cluster``: one forward pass.

  :func:`greedy_inputs` then :func:`greedy_decisions`; nothing is simulated
  (but see :func:`greedy_inputs` for networks with a cluster context).

  Returns:
    (N,) decisions (numpy): placement int32 (colocated ops on their leader's
    device), priority float64 (the priority level) and fusion bool.
  """
  return greedy_decisions(pretrained, greedy_inputs(pretrained, graph, cluster))


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
  """What :func:`finetune` found (exact step times from :func:`simulator.simulate_reference`).

  Attributes:
    decisions: (N,) the best of the zero-shot, best sampled and final greedy decisions.
    step_time: seconds, exact step time of ``decisions``.
    oom: whether ``decisions`` runs out of memory.
    chosen: ``zero_shot``, ``best_sampled`` or ``greedy``.
    zero_shot_step_time: seconds, exact step time of the pretrained policy's greedy decisions.
    reference_step_time: seconds, :func:`go_jax.rl.rewards.reference_step_time`.
    iterations: PPO iterations run.
    evaluations: decision vectors simulated (sampled ones, plus the exact scores of three candidates).
    curve: per iteration, the best step time sampled so far (s, vectorized simulator).
    params: the fine-tuned parameters.
  """

  decisions: simulator.Decisions
  step_time: float
  oom: bool
  chosen: str
  zero_shot_step_time: float
  reference_step_time: float
  iterations: int
  evaluations: int
  curve: list[float]
  params: Any


def finetune(pretrained: PretrainedPolicy, problem: evaluation.Problem, steps: int,
             config: ml_collections.ConfigDict | None = None,
             progress_fn: Callable[[int, dict[str, float]], None] | None = None) -> FinetuneResult:
  """Continues PPO on ``problem.graph`` for ``steps`` iterations from the pretrained parameters.

  Args:
    pretrained: the policy to start from.
    problem: the graph, cluster, seed and (optional) expert placement (the reward's reference).
    steps: PPO iterations (each simulates ``config.ppo.num_samples`` decision vectors).
    config: PPO/reward settings (default: the checkpoint's own); its model must match the checkpoint.
    progress_fn: called after every iteration with the step and () float metrics.
  """
  config = pretrained.config if config is None else config
  network = pretrained.network
  it_config = train.iteration_config(config)
  graph, cluster = problem.graph, problem.cluster
  num_devices = placement_devices(cluster, network)
  reference = rewards.reference(graph, cluster, num_devices, problem.expert)
  batch = iteration.make_graph_batch([graph], cluster, num_devices, [reference.step_time],
                                     canonical_devices=it_config.canonical_devices,
                                     memory_needs=[reference.memory])
  state = iteration.init_state(network, it_config, batch, int(problem.seed))
  params = jax.tree.map(jax.numpy.asarray, pretrained.params)
  state = state.replace(params=params, opt_state=iteration.make_optimizer(it_config).init(params))
  curve = []
  start = time.perf_counter()
  for _ in range(int(steps)):
    state, metrics = iteration.train_iteration(state, batch, network=network, config=it_config)
    metrics = {name: float(value) for name, value in jax.device_get(metrics).items()}
    curve.append(metrics["best_step_time"])
    if progress_fn is not None:
      progress_fn(int(state.step), {**metrics, "wall_s": time.perf_counter() - start})
  n = graph.num_nodes
  candidates = {"zero_shot": zero_shot(pretrained, graph, cluster)}
  if steps > 0:
    candidates["greedy"] = simulator.Decisions(*(np.asarray(x[0][:n]) for x in iteration.greedy_decisions(
        state.params, batch, network)))
    if np.isfinite(float(state.best_step_time[0])):
      candidates["best_sampled"] = simulator.Decisions(*(np.asarray(x[0][:n]) for x in state.best_decisions))
  scored = {name: evaluation.exact_cost(graph, cluster, d) for name, d in candidates.items()}
  chosen = min(scored, key=lambda name: scored[name])
  oom, step_time = scored[chosen]
  return FinetuneResult(decisions=candidates[chosen], step_time=step_time, oom=oom, chosen=chosen,
                        zero_shot_step_time=scored["zero_shot"][1], reference_step_time=reference,
                        iterations=int(state.step), evaluations=int(state.evaluations) + len(scored),
                        curve=curve, params=state.params)


def go(problem: evaluation.Problem) -> evaluation.MethodOutput:
  """Zero-shot GO: the pretrained policy's greedy decisions (0 simulator evaluations)."""
  pretrained = load_policy(getattr(problem, "checkpoint", None))
  decisions = zero_shot(pretrained, problem.graph, problem.cluster)
  summary = evaluation.summarize_decisions(decisions, problem.num_devices)
  return evaluation.MethodOutput(
      decisions, evaluations=0,
      notes=(f"zero-shot greedy decisions of {os.path.basename(pretrained.path)} (iteration {pretrained.step}): "
             f"{evaluation.describe_decisions(summary, problem.graph.num_nodes)}"))


METHODS: dict[str, Callable[[evaluation.Problem], evaluation.MethodOutput]] = {"go": go}
