"""GO-batch pretraining: one policy trained with PPO on many graphs and clusters.

Each iteration (:func:`pretrain`) draws one :class:`~go_jax.rl.iteration.GraphBatch`
(:class:`BatchSampler`) and runs the shared jitted
:func:`go_jax.rl.iteration.train_iteration` on it, so the PPO loss, the
per-graph normalised reward (:mod:`go_jax.rl.rewards`: every graph is scored
against its own reference heuristic, and the advantage baseline is the mean
reward of that graph's samples) and the update are exactly those of GO-one.

**The training set** (:func:`load_training_set`), minus the ``holdout`` family:

* workload-zoo variants small enough for CPU training (``config.zoo_variants``,
  e.g. ``rnnlm_2:unroll=8``), traced once and cached like every zoo graph;
* the third-party graphs under ``config.shared_data`` (dnn-partitioning
  operator/layer graphs and PipeDream profiles, via
  :func:`go_jax.graph.loading.load_graph`), when that folder exists;
* synthetic graphs (:mod:`go_jax.graph.synthetic`), a fresh stream: graph ``k``
  of iteration ``t`` depends only on ``(seed, t, k)``.

Graphs larger than the largest bucket are skipped (logged). Families are the
zoo's (``rnnlm``, ``gnmt``, ``txl``, ``wavenet``, ``bert``, ``resnet``,
``inception``, ``amoebanet``); third-party graphs of those models count as
that family (so ``holdout=gnmt`` also removes PipeDream's and dnn-partitioning's
GNMT), other third-party models are their own family, synthetic graphs are
``synthetic``.

**Batches.** A batch is G graphs padded to one node bucket ``Np`` (from
``config.buckets``) with ``Ep = edge_ratio * Np`` edges, where ``G =
max(1, nodes_per_batch // Np)`` so every iteration costs about the same, on
one cluster preset of ``config.clusters`` (every graph gets its own device
count from ``config.device_counts``, at most the cluster's, through
``GraphBatch.num_devices``). Clusters are renamed ``pretrain`` in the batch so
presets with the same device count and kinds share one compilation; the
number of compilations is (buckets) x (distinct device counts and kinds of
the cluster presets).

**CPU reality.** One forward and backward pass of the default policy takes
~0.5 s at 1k nodes and ~12 s at 10k on a CPU core, so the default config keeps
pretraining graphs at <= 2k nodes (buckets 256-2048) and uses a small network
(``experiments/configs/pretrain.py``); inception, amoebanet and ResNet-50 from
the zoo (5k-30k nodes at any knob setting) enter only through their
third-party and synthetic relatives.

**Run directory** (the layout of :mod:`go_jax.rl.train`, so
:func:`go_jax.rl.pretrained.load_policy` loads either):

  workdir/config.json         the config (the network is rebuilt from it)
  workdir/checkpoints/<step>  orbax checkpoints of :class:`PretrainState`
  workdir/metrics.jsonl       one line of metrics per iteration
  workdir/tb/                 TensorBoard event files
  workdir/training_set.json   the graphs of the training set (name, family, nodes)

**Memory pressure.** On the presets every training graph fits on one device, so
without help the policy never sees a graph that must be split (and learns to put
everything on one device). With ``config.memory_pressure = p``, a share ``p`` of
the batches (with >= 2 devices per graph) runs on a copy of the cluster whose
devices hold less than ``need``, the batch's largest single-device peak memory
(the smaller of unfused and every op fused: fusion often lowers it), but more
than ``split``, the largest device's peak under the contiguous split
that the reward's reference scores (:func:`go_jax.rl.rewards.reference`):
capacity ``split + u x (need - split)``, ``u`` uniform in [0.1, 0.9]. So one
device runs out of memory, fused or not (HDP's failing signal), while that
split fits and becomes the reference. Batches whose largest graph's split needs more than
``0.9 x need`` (memory dominated by a few tensors, or only 2 devices) stay
unsqueezed. The policy sees the
pressure through its cluster context (``model.cluster_context``).

**Imitation.** With ``config.imitation.pretrain_iterations = I``, iterations
``0 .. I-1`` clone teachers instead of running PPO: every graph of the batch
gets its own best heuristic decisions on the batch's cluster (squeezed or not)
and device count (:func:`go_jax.rl.imitation.teacher`: the placement heuristics
``imitation.teachers`` under each fusion rule, then the scheduling rules, every
candidate scored exactly; feasible before OOM), canonically relabeled when
``ppo.canonical_devices`` is on, and the iteration takes as many Adam steps as
a PPO iteration (``num_epochs x num_minibatches``, PPO's optimizer and state) on
their cross-entropy minus ``imitation.entropy`` times the entropy
(:func:`go_jax.rl.imitation.imitation_loss`). PPO alone learned "everything on
one device, fused" and never learned to split a graph that does not fit
(``docs/memory_pressure.md``); a teacher on a squeezed cluster is a split that
fits. Teachers of real graphs are cached per (graph, cluster, devices); their
exact simulations count as evaluations when computed.

A workdir with checkpoints resumes from the latest; the batch of iteration
``t`` depends only on ``(seed, t)`` and the state carries the RNG, so a resumed
run equals an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
import time
from typing import Any, Callable, Sequence

from absl import logging
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from go_jax import errors
from go_jax import evaluation
from go_jax.graph import features
from go_jax.graph import graph as graph_lib
from go_jax.graph import loading
from go_jax.graph import synthetic
from go_jax.models import policy
from go_jax.rl import config as rl_config
from go_jax.rl import imitation
from go_jax.rl import iteration
from go_jax.rl import rewards
from go_jax.rl import train
import simulator
from simulator import cluster as cluster_lib

ProgressFn = Callable[[int, dict[str, float]], None]

#: Config fields that may change when a run resumes.
RESUMABLE_FIELDS = ("num_iterations", "time_limit_s", "checkpoint_every", "max_checkpoints")

#: Third-party model name prefixes -> zoo family (others are their own family).
_FAMILY_ALIASES = (("bert", "bert"), ("resnet", "resnet"), ("resnext", "resnet"), ("inception", "inception"),
                   ("gnmt", "gnmt"), ("rnnlm", "rnnlm"), ("wavenet", "wavenet"), ("amoeba", "amoebanet"),
                   ("txl", "txl"), ("transformer_xl", "txl"))
SYNTHETIC_FAMILY = "synthetic"
#: Memory pressure squeezes a batch only when a simple split needs at most this share of one device's need.
_MAX_SPLIT_SHARE = 0.9


@dataclasses.dataclass(frozen=True)
class TrainingGraph:
  """One graph of the training set.

  Attributes:
    graph: the graph.
    family: model family (module docstring), the unit of ``holdout``.
    source: ``zoo``, ``shared`` or ``synthetic``.
  """

  graph: graph_lib.ComputationGraph
  family: str
  source: str


@flax.struct.dataclass
class PretrainState:
  """What a pretraining run checkpoints (an immutable pytree).

  Attributes:
    params: policy parameters (the same tree as GO-one's ``TrainState.params``).
    opt_state: optax state of :func:`go_jax.rl.iteration.make_optimizer`.
    rng: (2,) uint32 PRNG key of sampling and minibatch shuffling.
    step: () int32 iterations done.
    evaluations: () int32 decision vectors simulated so far.
    graphs_seen: () int32 graph instances trained on (G per iteration).
  """

  params: Any
  opt_state: Any
  rng: jax.Array
  step: jax.Array
  evaluations: jax.Array
  graphs_seen: jax.Array


def family_of(name: str) -> str:
  """The family of a third-party model name (``bert24_training`` -> ``bert``, ``vgg16`` -> ``vgg16``)."""
  lowered = name.lower()
  for prefix, family in _FAMILY_ALIASES:
    if lowered.startswith(prefix):
      return family
  return lowered


def buckets_of(config: ml_collections.ConfigDict) -> list[int]:
  """Sorted node buckets of ``config.buckets`` (each a :func:`features.bucket_size` value)."""
  try:
    buckets = sorted({int(b) for b in rl_config.names(config.buckets)})
  except ValueError:
    raise errors.InputError(f"--config.buckets={config.buckets!r}: expected comma-separated integers") from None
  bad = [b for b in buckets if features.bucket_size(b) != b]
  if not buckets or bad:
    raise errors.InputError(f"--config.buckets: {bad or 'none'} are not padded sizes "
                            "(use powers of two such as 256,512,1024,2048)")
  return buckets


def bucket_of(graph: graph_lib.ComputationGraph, buckets: Sequence[int], edge_ratio: int) -> int | None:
  """The smallest bucket ``Np`` with ``N + 1 <= Np`` and ``E <= edge_ratio * Np``, or None if none fits."""
  for bucket in buckets:
    if graph.num_nodes + 1 <= bucket and graph.num_edges <= edge_ratio * bucket:
      return bucket
  return None


def _shared_graph_paths(root: str) -> list[tuple[str, str]]:
  """(path, model name) of every third-party graph under ``root``."""
  found = []
  for path in sorted(glob.glob(os.path.join(root, "dnn-partitioning", "*-inputs", "*Graphs", "*.json"))):
    found.append((path, os.path.splitext(os.path.basename(path))[0]))
  for path in sorted(glob.glob(os.path.join(root, "pipedream", "*", "graph.txt"))):
    found.append((path, os.path.basename(os.path.dirname(path))))
  return found


def load_training_set(config: ml_collections.ConfigDict) -> list[TrainingGraph]:
  """The real graphs of the training set (zoo variants and third-party), minus the holdout family.

  Synthetic graphs are not listed: :class:`BatchSampler` generates them on the fly.
  """
  from go_jax import workloads  # pylint: disable=g-import-not-at-top
  holdout = str(config.holdout).strip()
  buckets = buckets_of(config)
  out = []

  def keep(graph, family, source):
    if family == holdout:
      return
    if bucket_of(graph, buckets, int(config.edge_ratio)) is None:
      logging.info("pretraining skips %s (%d nodes, %d edges): larger than the largest bucket %d",
                   graph.name, graph.num_nodes, graph.num_edges, buckets[-1])
      return
    out.append(TrainingGraph(graph, family, source))

  for spec in [s.strip() for s in str(config.zoo_variants).split(";") if s.strip()]:
    name, knobs = workloads.parse_variant(spec)
    family = workloads.get_spec(name).family
    if family == holdout:
      continue
    graph = workloads.get_graph(name, **knobs)
    suffix = ",".join(f"{k}={v}" for k, v in sorted(knobs.items()))
    keep(dataclasses.replace(graph, name=f"{name}[{suffix}]" if suffix else name), family, "zoo")
  root = str(config.shared_data)
  if root:
    if not os.path.isdir(root):
      logging.warning("pretraining without third-party graphs: %s is not a directory", root)
    else:
      for path, model in _shared_graph_paths(root):
        family = family_of(model)
        if family == holdout:
          continue
        try:
          graph = loading.load_graph(path)
        except errors.InputError as e:
          logging.warning("pretraining skips %s: %s", path, e)
          continue
        keep(dataclasses.replace(graph, name=os.path.relpath(path, root)), family, "shared")
  return out


def families_of(config: ml_collections.ConfigDict) -> list[str]:
  """Zoo families a holdout may name."""
  from go_jax import workloads  # pylint: disable=g-import-not-at-top
  return sorted({spec.family for spec in workloads.WORKLOADS.values()})


@dataclasses.dataclass
class BatchInfo:
  """Host-side description of one batch (for metrics)."""

  bucket: int
  cluster: str
  names: list[str]
  families: list[str]
  num_devices: list[int]
  references: list[float]
  mem_capacity: float | None = None  # bytes per device when memory pressure scaled it, else None
  teachers: list[imitation.Teacher] | None = None  # one per graph, when sampled with teachers=True
  teacher_evaluations: int = 0  # exact simulations spent on the teachers not taken from the cache


class BatchSampler:
  """Draws the batch of iteration ``t`` (a function of ``(seed, t)`` only; module docstring)."""

  def __init__(self, config: ml_collections.ConfigDict, training_set: Sequence[TrainingGraph],
               max_devices: int):
    self._config = config
    self._buckets = buckets_of(config)
    self._edge_ratio = int(config.edge_ratio)
    self._canonical_devices = bool(config.ppo.get("canonical_devices", False))
    self._clusters = []
    for name in rl_config.names(config.clusters):
      try:
        cluster = cluster_lib.get_cluster(name)
      except cluster_lib.ClusterError as e:
        raise errors.InputError(f"--config.clusters: {e}") from None
      if cluster.num_devices > max_devices:
        cluster = cluster_lib.first_devices(cluster, max_devices)
      self._clusters.append(cluster)
    if not self._clusters:
      raise errors.InputError("--config.clusters is empty")
    try:
      self._device_counts = sorted({int(d) for d in rl_config.names(config.device_counts)})
    except ValueError:
      raise errors.InputError(f"--config.device_counts={config.device_counts!r}: expected integers") from None
    if not self._device_counts or self._device_counts[0] < 1:
      raise errors.InputError(f"--config.device_counts={config.device_counts!r}: need positive integers")
    self._by_bucket: dict[int, list[TrainingGraph]] = {}
    for item in training_set:
      bucket = bucket_of(item.graph, self._buckets, self._edge_ratio)
      if bucket is None:
        raise errors.InputError(f"training graph {item.graph.name!r} ({item.graph.num_nodes} nodes, "
                                f"{item.graph.num_edges} edges) fits no bucket of --config.buckets={config.buckets}")
      self._by_bucket.setdefault(bucket, []).append(item)
    self._synthetic_fraction = float(config.synthetic_fraction)
    self._memory_pressure = float(config.get("memory_pressure", 0.0))
    if not 0.0 <= self._memory_pressure <= 1.0:
      raise errors.InputError(f"--config.memory_pressure={self._memory_pressure}: expected a share in [0, 1]")
    if not self._by_bucket and self._synthetic_fraction <= 0:
      raise errors.InputError("the training set is empty and --config.synthetic_fraction is 0")
    self._reference_cache: dict[tuple[int, str, int], rewards.Reference] = {}
    self._split_cache: dict[tuple[int, str, int], float] = {}
    self._teacher_cache: dict[tuple[int, str, int], imitation.Teacher] = {}

  def graphs_per_batch(self, bucket: int) -> int:
    return max(1, int(self._config.nodes_per_batch) // bucket)

  def _reference(self, item: TrainingGraph, cluster: cluster_lib.Cluster, devices: int) -> rewards.Reference:
    key = (id(item.graph), cluster.name, devices)
    if key not in self._reference_cache:
      self._reference_cache[key] = rewards.reference(item.graph, cluster, devices)
    return self._reference_cache[key]

  def _squeezed(self, rng: np.random.Generator, cluster: cluster_lib.Cluster, items: Sequence[TrainingGraph],
                devices: Sequence[int]) -> cluster_lib.Cluster | None:
    """``cluster`` with less memory per device than the batch's largest need (module docstring), or None."""
    need, index = max((min(self._reference(item, cluster, d).memory), i)
                      for i, (item, d) in enumerate(zip(items, devices)))
    split = self._split_peak(items[index], cluster, devices[index])
    if split > _MAX_SPLIT_SHARE * need:  # no simple split needs clearly less: nothing to learn here
      return None
    return cluster_lib.with_memory(cluster, split + rng.uniform(0.1, 0.9) * (need - split))

  def _split_peak(self, item: TrainingGraph, cluster: cluster_lib.Cluster, devices: int) -> float:
    """Bytes: the largest device's peak memory under the reward reference's contiguous split."""
    key = (id(item.graph), cluster.name, devices)
    if key not in self._split_cache:
      graph = item.graph
      split = rewards.contiguous_split(graph, cluster, devices)
      result, _ = simulator.simulate_reference(graph, cluster, simulator.default_decisions(graph.num_nodes, split))
      self._split_cache[key] = float(np.max(result.peak_memory))
    return self._split_cache[key]

  def _teacher(self, item: TrainingGraph, cluster: cluster_lib.Cluster, devices: int
               ) -> tuple[imitation.Teacher, int]:
    """The best heuristic decisions for ``item`` on the first ``devices`` devices, and the evaluations spent now."""
    key = (id(item.graph), cluster.name, devices)
    if key in self._teacher_cache:
      return self._teacher_cache[key], 0
    field = lambda name, default="": rl_config.names(self._config.imitation.get(name, default))  # noqa: E731
    problem = evaluation.Problem(item.graph, cluster_lib.first_devices(cluster, devices))
    try:
      teacher = imitation.teacher(
          problem, field("teachers"), devices, tasks=rl_config.names(self._config.tasks),
          num_levels=int(self._config.model.num_priority_levels),
          scheduling_names=field("scheduling_teachers", ",".join(imitation.SCHEDULING_TEACHERS)),
          fusion_names=field("fusion_teachers", ",".join(imitation.FUSION_TEACHERS)))
    except ValueError as e:
      raise errors.InputError(f"--config.imitation: {e}") from None
    self._teacher_cache[key] = teacher
    return teacher, teacher.evaluations

  def _synthetic(self, rng: np.random.Generator, bucket: int, count: int, step: int) -> list[TrainingGraph]:
    lower = max(int(self._config.min_nodes), synthetic.MIN_NODES, bucket // 2 if bucket > self._buckets[0] else 0)
    upper = max(lower + 1, int(0.85 * (bucket - 1)))
    out = []
    attempt = 0
    while len(out) < count:
      size = int(rng.integers(lower, upper + 1))
      graph = synthetic.generate(int(self._config.seed) * 1_000_003 + step * 1009 + attempt, size,
                                 name=f"synthetic_{step}_{attempt}")
      attempt += 1
      if bucket_of(graph, self._buckets, self._edge_ratio) == bucket or (
          attempt > 8 * count and graph.num_nodes < bucket and graph.num_edges <= self._edge_ratio * bucket):
        out.append(TrainingGraph(graph, SYNTHETIC_FAMILY, "synthetic"))
    return out

  def sample(self, step: int, teachers: bool = False) -> tuple[iteration.GraphBatch, BatchInfo]:
    """The batch of iteration ``step`` (with ``teachers``, each graph's teacher in ``BatchInfo.teachers``)."""
    rng = np.random.default_rng([int(self._config.seed), int(step), 11])
    use_synthetic = not self._by_bucket or rng.random() < self._synthetic_fraction
    if use_synthetic:
      buckets = [b for b in self._buckets if b <= features.bucket_size(int(self._config.max_nodes) + 1)]
      bucket = int(rng.choice(buckets or self._buckets[:1]))
      items = self._synthetic(rng, bucket, self.graphs_per_batch(bucket), step)
    else:
      buckets = sorted(self._by_bucket)
      # Buckets in proportion to their graphs, so every real graph is equally likely to be drawn.
      weights = np.asarray([len(self._by_bucket[b]) for b in buckets], np.float64)
      bucket = int(buckets[rng.choice(len(buckets), p=weights / weights.sum())])
      pool = self._by_bucket[bucket]
      items = [pool[i] for i in rng.integers(len(pool), size=self.graphs_per_batch(bucket))]
    cluster = self._clusters[int(rng.integers(len(self._clusters)))]
    allowed = [d for d in self._device_counts if d <= cluster.num_devices] or [cluster.num_devices]
    devices = [int(rng.choice(allowed)) for _ in items]
    # Drawn after every other draw of the batch: a share of 0 leaves batches as they were before it existed.
    squeezed = None
    if rng.random() < self._memory_pressure and min(devices) >= 2:
      squeezed = self._squeezed(rng, cluster, items, devices)
    mem_capacity = None
    if squeezed is not None:
      cluster, mem_capacity = squeezed, float(squeezed.mem_capacity[0])
    references = [self._reference(item, cluster, d) for item, d in zip(items, devices)]
    # One compilation per (bucket, device count, kinds): the preset's name is static in the pytree.
    batch_cluster = cluster.replace(name="pretrain")
    batch = iteration.make_graph_batch([item.graph for item in items], batch_cluster, devices,
                                       [r.step_time for r in references], bucket, self._edge_ratio * bucket,
                                       canonical_devices=self._canonical_devices,
                                       memory_needs=[r.memory for r in references])
    info = BatchInfo(bucket, cluster.name, [i.graph.name for i in items], [i.family for i in items], devices,
                     [r.step_time for r in references], mem_capacity)
    if teachers:
      found = [self._teacher(item, cluster, d) for item, d in zip(items, devices)]
      info.teachers = [teacher for teacher, _ in found]
      info.teacher_evaluations = sum(spent for _, spent in found)
    if use_synthetic:  # fresh graphs are never seen again: do not keep what was computed for them
      fresh = {id(i.graph) for i in items}
      for name in ("_reference_cache", "_split_cache", "_teacher_cache"):
        setattr(self, name, {k: v for k, v in getattr(self, name).items() if k[0] not in fresh})
    return batch, info


# ---------------------------------------------------------------------------
# The loop.
# ---------------------------------------------------------------------------


def _example_graph(bucket: int, edge_ratio: int) -> Any:
  graph = synthetic.generate(0, 60, "layered")
  return features.to_graphs_tuple(graph, max(bucket, features.bucket_size(graph.num_nodes + 1)),
                                  max(edge_ratio * bucket, features.bucket_size(graph.num_edges)))


def init_state(network: policy.PolicyNetwork, it_config: iteration.IterationConfig, seed: int,
               params: Any = None) -> PretrainState:
  """A fresh state (parameters from ``seed`` unless ``params`` are given)."""
  init_rng, rng = jax.random.split(jax.random.PRNGKey(seed))
  if params is None:
    params = policy.init_params(network, init_rng, _example_graph(256, 2))
  return PretrainState(params=params, opt_state=iteration.make_optimizer(it_config).init(params), rng=rng,
                       step=jnp.int32(0), evaluations=jnp.int32(0), graphs_seen=jnp.int32(0))


def _as_train_state(state: PretrainState, batch: iteration.GraphBatch) -> iteration.TrainState:
  """A GO-one TrainState around ``state`` with fresh best-decision slots for ``batch``'s (G, Np)."""
  num_graphs, num_nodes = batch.node_mask.shape
  return iteration.TrainState(
      params=state.params, opt_state=state.opt_state, rng=state.rng, step=state.step,
      evaluations=state.evaluations, best_cost=jnp.full(num_graphs, jnp.inf, jnp.float32),
      best_step_time=jnp.full(num_graphs, jnp.inf, jnp.float32), best_oom=jnp.zeros(num_graphs, bool),
      best_decisions=simulator.Decisions(jnp.zeros((num_graphs, num_nodes), jnp.int32),
                                         jnp.zeros((num_graphs, num_nodes), jnp.float32),
                                         jnp.zeros((num_graphs, num_nodes), bool)),
      best_iteration=jnp.int32(0))


def pretrain_step(state: PretrainState, batch: iteration.GraphBatch, network: policy.PolicyNetwork,
                  it_config: iteration.IterationConfig) -> tuple[PretrainState, dict[str, jax.Array]]:
  """One PPO iteration of :func:`go_jax.rl.iteration.train_iteration` on ``batch`` (jitted there)."""
  new, metrics = iteration.train_iteration(_as_train_state(state, batch), batch, network=network,
                                           config=it_config)
  return PretrainState(params=new.params, opt_state=new.opt_state, rng=new.rng, step=new.step,
                       evaluations=new.evaluations,
                       graphs_seen=state.graphs_seen + batch.node_mask.shape[0]), metrics


def canonical_target(batch: iteration.GraphBatch, target: policy.Decisions) -> policy.Decisions:
  """(G, Np) teacher actions with each placement replaced by its canonical labeling (:mod:`go_jax.rl.symmetry`)."""
  with_samples = jax.tree.map(lambda x: x[:, None], target)
  return jax.tree.map(lambda x: x[:, 0], iteration.canonical_actions(batch, with_samples))


@functools.partial(jax.jit, static_argnames=("network", "it_config"))
def imitation_step(state: PretrainState, batch: iteration.GraphBatch, target: policy.Decisions,
                   entropy_weight: jax.Array, evaluations: jax.Array, *, network: policy.PolicyNetwork,
                   it_config: iteration.IterationConfig) -> tuple[PretrainState, dict[str, jax.Array]]:
  """One imitation iteration (module docstring, "Imitation"); jitted.

  Args:
    state: the pretraining state; its optimizer state is PPO's and stays so.
    batch: G graphs.
    target: (G, Np) int32 teacher actions per field (:func:`go_jax.rl.imitation.padded_target`),
      relabeled canonically here when ``it_config.canonical_devices``.
    entropy_weight: () weight of the entropy bonus.
    evaluations: () int32 simulator evaluations the teachers cost.

  Returns:
    The new state and () float32 means over the Adam steps of
    :func:`go_jax.rl.imitation.imitation_loss`'s metrics.
  """
  if it_config.canonical_devices:
    target = canonical_target(batch, target)
  params, opt_state, metrics = imitation.fit(
      state.params, state.opt_state, iteration.make_optimizer(it_config), batch, target, network=network,
      steps=it_config.num_epochs * it_config.num_minibatches, entropy_weight=entropy_weight)
  new = state.replace(params=params, opt_state=opt_state, step=state.step + 1,
                      evaluations=state.evaluations + evaluations,
                      graphs_seen=state.graphs_seen + batch.node_mask.shape[0])
  return new, {name: value.mean() for name, value in metrics.items()}


def _imitation_metrics(info: BatchInfo, metrics: dict[str, float]) -> dict[str, float]:
  """An imitation iteration's metrics plus its teachers' quality against the reward's references."""
  times = np.asarray([t.step_time for t in info.teachers], np.float64)
  return {**metrics, "imitation": 1.0,
          "teacher_speedup": float(np.mean(np.asarray(info.references) / times)),
          "teacher_oom_fraction": float(np.mean([t.oom for t in info.teachers]))}


def split_probe(network: policy.PolicyNetwork, params: Any, config: ml_collections.ConfigDict,
                training_set: Sequence[TrainingGraph], steps: Sequence[int]) -> dict[str, Any]:
  """Does a policy split the training graphs that memory pressure squeezes, as their teachers do?

  Draws the batches of iterations ``steps`` exactly as pretraining with ``config`` would
  (:class:`BatchSampler`), keeps the squeezed ones (one device cannot hold their largest
  graph, fused or not) and compares, per graph, the teacher's placement with the policy's
  greedy one: one forward pass per batch, no training.

  Returns:
    ``batches`` (squeezed batches seen), ``graphs``, ``teacher_splits`` and ``policy_splits``
    (graphs placed on more than one device), ``teacher_oom`` and ``policy_oom`` (graphs whose
    decisions run out of memory; the policy's by the vectorized simulator), and ``agreement`` (mean share
    of nodes whose greedy device is the canonical teacher's, with the run's device labeling).
  """
  sampler = BatchSampler(config, training_set, network.max_devices)
  it_config = train.iteration_config(config)
  out = {"batches": 0, "graphs": 0, "teacher_splits": 0, "policy_splits": 0, "teacher_oom": 0, "policy_oom": 0}
  agreement = []
  for step in steps:
    batch, info = sampler.sample(int(step), teachers=True)
    if info.mem_capacity is None:
      continue
    out["batches"] += 1
    target = imitation.padded_target(info.teachers, np.asarray(batch.node_mask))
    if it_config.canonical_devices:
      target = canonical_target(batch, target)
    greedy = iteration.greedy_decisions(params, batch, network)
    oom = np.any(np.asarray(iteration.simulate(batch, greedy, jnp.arange(len(info.teachers))).oom), axis=-1)
    greedy = jax.device_get(greedy)
    for row, teacher in enumerate(info.teachers):
      n = teacher.placement.shape[0]
      placed = np.asarray(greedy.placement[row])[:n]
      out["graphs"] += 1
      out["teacher_splits"] += int(np.unique(teacher.placement).size > 1)
      out["policy_splits"] += int(np.unique(placed).size > 1)
      out["teacher_oom"] += int(teacher.oom)
      out["policy_oom"] += int(oom[row])
      agreement.append(float(np.mean(placed == np.asarray(target.placement[row])[np.asarray(batch.leader[row])[:n]])))
  out["agreement"] = float(np.mean(agreement)) if agreement else float("nan")
  return out


def progress_line(step: int, metrics: dict[str, float]) -> str:
  """The console line of one iteration (``metrics`` as :func:`pretrain` reports them)."""
  eta_text = f"{metrics['eta_s']:6.0f}s" if "eta_s" in metrics else "     ?"
  if metrics.get("imitation"):
    learning = (f"clone: xent {metrics['imitation_loss']:.3f}  H {metrics['imitation_entropy']:.3f}  "
                f"acc {metrics['imitation_accuracy']:.3f}  teacher speedup {metrics['teacher_speedup']:.3f}")
  else:
    learning = (f"reward {metrics['reward_mean']:+.3f}  speedup {metrics['best_speedup']:.3f}  "
                f"H {metrics['entropy']:.3f}  kl {metrics['approx_kl']:.4f}")
  return (f"[pretrain] it {step:5d}  bucket {metrics['bucket']:5.0f} x{metrics['graphs']:3.0f}  "
          f"graphs {metrics['graphs_seen']:7.0f}  {learning}  "
          f"{metrics['iteration_s']:5.2f} s/it  wall {metrics['wall_s']:6.0f}s  ETA {eta_text}")


def _abstract(state: PretrainState):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)


def pretrain(config: ml_collections.ConfigDict, training_set: Sequence[TrainingGraph],
             checkpoints: ocp.CheckpointManager | None = None, progress_fn: ProgressFn | None = None,
             initial_params: Any = None) -> PretrainState:
  """Pretrains until ``config.num_iterations`` or ``config.time_limit_s`` (wall seconds, 0 = none).

  Args:
    config: a config of ``experiments/configs/pretrain.py``.
    training_set: the real graphs (:func:`load_training_set`); synthetic ones are drawn on the fly.
    checkpoints: restore the latest checkpoint from it and save into it, if given.
    progress_fn: called after every iteration with the step and () float metrics, plus
      ``wall_s``, ``iteration_s`` (sampling the batch included), ``bucket``, ``graphs``,
      ``graphs_seen``, ``synthetic_fraction_batch`` and, once an iteration ran without
      compiling, ``iterations_per_s`` and ``eta_s`` (measured on such iterations only).
    initial_params: start from these parameters instead of a fresh initialisation.

  Returns:
    The final state.
  """
  network = train.make_network(config)
  it_config = train.iteration_config(config)
  sampler = BatchSampler(config, training_set, network.max_devices)
  state = init_state(network, it_config, int(config.seed), initial_params)
  if checkpoints is not None and checkpoints.latest_step() is not None:
    step = checkpoints.latest_step()
    state = checkpoints.restore(step, args=ocp.args.StandardRestore(_abstract(state)))
    logging.info("resumed pretraining from checkpoint at iteration %d", step)
  last = int(config.num_iterations)
  time_limit = float(config.time_limit_s)
  start = time.perf_counter()
  # Iterations on a batch shape seen before (no compilation) time the ETA.
  compiled_shapes: set[tuple[int, int, int, bool]] = set()
  timed_seconds, timed_steps = 0.0, 0
  imitation_iterations = int(config.imitation.get("pretrain_iterations", 0))
  if imitation_iterations < 0:
    raise errors.InputError(f"--config.imitation.pretrain_iterations={imitation_iterations}: expected >= 0")
  entropy_weight = jnp.float32(config.imitation.entropy)
  while int(state.step) < last:
    if time_limit > 0 and time.perf_counter() - start >= time_limit:
      logging.info("pretraining stops at the time limit of %.0f s", time_limit)
      break
    iteration_start = time.perf_counter()
    cloning = int(state.step) < imitation_iterations
    batch, info = sampler.sample(int(state.step), teachers=cloning)
    shape = (batch.node_mask.shape[0], batch.node_mask.shape[1], int(batch.cluster.num_devices), cloning)
    if cloning:
      target = imitation.padded_target(info.teachers, np.asarray(batch.node_mask))
      state, metrics = imitation_step(state, batch, target, entropy_weight, jnp.int32(info.teacher_evaluations),
                                      network=network, it_config=it_config)
      metrics = {name: float(value) for name, value in jax.device_get(metrics).items()}
      metrics = _imitation_metrics(info, {**metrics, "evaluations": float(state.evaluations)})
    else:
      state, metrics = pretrain_step(state, batch, network, it_config)
      metrics = {name: float(value) for name, value in jax.device_get(metrics).items()}
    step = int(state.step)
    now = time.perf_counter()
    if shape in compiled_shapes:
      timed_seconds += now - iteration_start
      timed_steps += 1
    compiled_shapes.add(shape)
    metrics.update(wall_s=now - start, bucket=float(info.bucket), graphs=float(len(info.names)),
                   synthetic_fraction_batch=float(np.mean([f == SYNTHETIC_FAMILY for f in info.families])),
                   memory_pressure_batch=float(info.mem_capacity is not None),
                   graphs_seen=float(state.graphs_seen), iteration_s=now - iteration_start)
    if timed_steps:
      rate = timed_steps / timed_seconds
      remaining = (last - step) / rate
      if time_limit > 0:
        remaining = min(remaining, max(0.0, time_limit - (now - start)))
      metrics.update(iterations_per_s=rate, eta_s=remaining)
    if progress_fn is not None:
      progress_fn(step, metrics)
    if checkpoints is not None and step % int(config.checkpoint_every) == 0:
      checkpoints.save(step, args=ocp.args.StandardSave(state))
  if checkpoints is not None and int(state.step) not in checkpoints.all_steps():
    checkpoints.save(int(state.step), args=ocp.args.StandardSave(state))
  if checkpoints is not None:
    checkpoints.wait_until_finished()
  return state


def pretrain_and_save(config: ml_collections.ConfigDict, workdir: str,
                      progress_fn: ProgressFn | None = None) -> dict[str, Any]:
  """Pretrains in ``workdir`` (resuming it if it has checkpoints); module docstring for the layout.

  Returns:
    A summary: ``iterations``, ``evaluations``, ``graphs_seen``,
    ``training_set`` (real graphs), ``holdout``, ``wall_s`` (this process) and
    ``total_wall_s`` (this process plus the earlier processes of a resumed run).
  """
  holdout = str(config.holdout).strip()
  if holdout and holdout not in families_of(config):
    raise errors.InputError(f"--config.holdout={holdout!r}: not a zoo family "
                            f"(valid: {', '.join(families_of(config))})")
  if float(config.model.get("node_logit_scale", 0.0)):
    raise errors.InputError(f"--config.model.node_logit_scale={config.model.node_logit_scale}: free per-node "
                            "logits have one graph's shape (GO-one only); pretraining needs 0")
  workdir = os.path.abspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  train.check_config(config, os.path.join(workdir, "config.json"), RESUMABLE_FIELDS)
  start = time.perf_counter()
  training_set = load_training_set(config)
  with open(os.path.join(workdir, "training_set.json"), "w") as f:
    json.dump([{"name": t.graph.name, "family": t.family, "source": t.source, "nodes": t.graph.num_nodes,
                "edges": t.graph.num_edges} for t in training_set], f, indent=1)
  checkpoints = ocp.CheckpointManager(
      os.path.join(workdir, "checkpoints"),
      options=ocp.CheckpointManagerOptions(max_to_keep=int(config.max_checkpoints),
                                           enable_async_checkpointing=False))
  restored = checkpoints.latest_step() or 0
  writer = train.MetricsWriter(workdir, train.read_metrics(os.path.join(workdir, "metrics.jsonl"), restored),
                               progress_fn)
  try:
    state = pretrain(config, training_set, checkpoints=checkpoints, progress_fn=writer)
  finally:
    writer.close()
    checkpoints.close()
  return {"iterations": int(state.step), "evaluations": int(state.evaluations),
          "graphs_seen": int(state.graphs_seen), "training_set": len(training_set), "holdout": holdout,
          "wall_s": time.perf_counter() - start,
          "total_wall_s": writer.previous_wall_s + time.perf_counter() - start}
