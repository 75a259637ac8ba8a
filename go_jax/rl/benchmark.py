"""Speed of GO's training and inference (libraries of experiments.bench_train and bench_zero_shot).

Training throughput of GO-one: PPO iterations/s and simulated graphs/s.

One measurement builds a random graph (:func:`simulator.bench.random_graph`),
compiles :func:`go_jax.rl.iteration.train_iteration` for it ahead of time
(timed apart), then times ``repeats`` whole iterations (sample K decision
vectors, simulate them, ``num_epochs`` x ``num_minibatches`` Adam steps) and
reports the median. "Simulated graphs/s" counts the K decision vectors an
iteration scores, so it is ``K x iterations/s``.

Zero-shot inference (:func:`measure_zero_shot`): the wall time of
:func:`go_jax.rl.pretrained.zero_shot` on one graph, split into its host half
(padded features, colocation leaders) and its jitted forward pass, cold (the
compilation caches cleared first) and warm, beside the wall time of a
constructive heuristic on the same graph and of scoring the decisions exactly.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time

import jax
import ml_collections

from go_jax import baselines
from go_jax import evaluation
from go_jax.graph import graph as graph_lib
from go_jax.models import benchmark as model_benchmark
from go_jax.rl import pretrained as pretrained_lib
from go_jax.rl import iteration
from go_jax.rl import rewards
from go_jax.rl import train
from simulator import bench as simulator_bench
from simulator import cluster as cluster_lib


@dataclasses.dataclass(frozen=True)
class IterationMeasurement:
  """Timing of PPO iterations on one random graph.

  Attributes:
    num_nodes: real nodes N.
    padded_nodes: the bucket Np.
    num_samples: K, decision vectors simulated per iteration.
    compile_seconds: ahead-of-time compilation of the iteration (s).
    iteration_seconds: median wall time of one iteration (s).
    repeats: timed iterations.
  """

  num_nodes: int
  padded_nodes: int
  num_samples: int
  compile_seconds: float
  iteration_seconds: float
  repeats: int

  @property
  def iterations_per_second(self) -> float:
    return 1.0 / self.iteration_seconds

  @property
  def graphs_per_second(self) -> float:
    return self.num_samples / self.iteration_seconds


def measure_iterations(config: ml_collections.ConfigDict, num_nodes: int, repeats: int = 3,
                       seed: int = 0) -> IterationMeasurement:
  """Compiles and times PPO iterations of ``config`` on a random graph of ``num_nodes`` nodes.

  Args:
    config: a training config (:func:`go_jax.rl.config.get_default_config`);
      its graph is replaced by the random one, its cluster is kept.
    num_nodes: real nodes of the random graph.
    repeats: timed iterations after one warm-up iteration (>= 1).
    seed: seed of the graph and of the parameters.
  """
  if repeats < 1:
    raise ValueError(f"repeats must be >= 1, got {repeats}")
  graph = simulator_bench.random_graph(num_nodes, seed=seed)
  cluster = cluster_lib.get_cluster(config.cluster or "v100x4", config.devices or None)
  network = train.make_network(config)
  it_config = train.iteration_config(config)
  num_devices = min(cluster.num_devices, network.max_devices)
  reference = rewards.reference(graph, cluster, num_devices)
  batch = iteration.make_graph_batch([graph], cluster, num_devices, [reference.step_time],
                                     canonical_devices=it_config.canonical_devices,
                                     memory_needs=[reference.memory])
  state = iteration.init_state(network, it_config, batch, seed)
  start = time.perf_counter()
  compiled = iteration.train_iteration.trace(state, batch, network=network, config=it_config).lower().compile()
  compile_seconds = time.perf_counter() - start
  state, _ = jax.block_until_ready(compiled(state, batch))  # warm-up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    state, _ = jax.block_until_ready(compiled(state, batch))
    times.append(time.perf_counter() - start)
  return IterationMeasurement(num_nodes=graph.num_nodes, padded_nodes=int(batch.node_mask.shape[1]),
                              num_samples=it_config.num_samples, compile_seconds=compile_seconds,
                              iteration_seconds=statistics.median(times), repeats=repeats)


def format_table(rows: list[IterationMeasurement]) -> str:
  """Markdown table of measurements."""
  lines = ["| nodes N | padded Np | K | compile (s) | s / iteration (median) | PPO iterations/s "
           "| simulated graphs/s |", "|---:|---:|---:|---:|---:|---:|---:|"]
  for row in rows:
    lines.append(f"| {row.num_nodes:,} | {row.padded_nodes:,} | {row.num_samples} | {row.compile_seconds:.1f} "
                 f"| {row.iteration_seconds:.3g} (of {row.repeats}) | {row.iterations_per_second:.3g} "
                 f"| {row.graphs_per_second:.3g} |")
  return "\n".join(lines)


def config_summary(config: ml_collections.ConfigDict) -> str:
  """One line with the config fields that drive the cost of an iteration."""
  ppo = config.ppo
  model = ml_collections.ConfigDict(config.model.to_dict())
  model.tasks = train.tasks_of(config)  # the network is built with the run's tasks
  return (f"cluster={config.cluster}, K={ppo.num_samples}, epochs={ppo.num_epochs}, "
          f"minibatches={ppo.num_minibatches}; model: {model_benchmark.config_summary(model)}")


def benchmark_section(rows: list[IterationMeasurement], config: ml_collections.ConfigDict, command: str,
                      load_average: str = "") -> str:
  """The markdown appended to BENCHMARKS.md: heading, machine, config, command, table."""
  return "\n".join([
      "## GO training throughput (PPO iterations)", "",
      f"Machine: {model_benchmark.machine_description()}{load_average}.", "",
      f"Config: {config_summary(config)}.", "",
      "One iteration = sample K decision vectors for one random graph (`simulator.bench.random_graph`), "
      "simulate them (scan engine), reward, and run epochs x minibatches Adam steps, all in one jitted "
      "`train_iteration`. Simulated graphs/s = K x iterations/s. Compilation is timed apart.", "",
      f"Command: `{command}`", "",
      format_table(rows), ""])


@dataclasses.dataclass(frozen=True)
class ZeroShotMeasurement:
  """Wall times (s) of zero-shot inference on one graph, and of what it is compared with.

  Attributes:
    graph: the graph's name.
    num_nodes: real nodes N.
    padded_nodes: the node bucket Np the policy runs on.
    cold_seconds: the first :func:`go_jax.rl.pretrained.zero_shot` call after
      ``jax.clear_caches()`` (tracing and compilation included): what a user of
      ``experiments.optimize`` waits for.
    inputs_seconds: median of the host half (:func:`go_jax.rl.pretrained.greedy_inputs`).
    forward_seconds: median of the compiled forward pass (:func:`go_jax.rl.pretrained.greedy_decisions`).
    warm_seconds: median of whole warm ``zero_shot`` calls.
    heuristic: name of the constructive heuristic timed beside it.
    heuristic_seconds: its wall time on the same graph and cluster (one run).
    exact_seconds: one exact reference simulation of the zero-shot decisions (s).
    repeats: warm calls per median.
  """

  graph: str
  num_nodes: int
  padded_nodes: int
  cold_seconds: float
  inputs_seconds: float
  forward_seconds: float
  warm_seconds: float
  heuristic: str
  heuristic_seconds: float
  exact_seconds: float
  repeats: int


def _median_seconds(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def measure_zero_shot(policy: pretrained_lib.PretrainedPolicy, graph: graph_lib.ComputationGraph,
                      cluster: cluster_lib.Cluster, repeats: int = 3, heuristic: str = "heft"
                      ) -> ZeroShotMeasurement:
  """Times zero-shot inference of ``policy`` on ``graph`` (see :class:`ZeroShotMeasurement`).

  Raises:
    ValueError: ``repeats`` < 1 or an unknown ``heuristic``.
  """
  if repeats < 1:
    raise ValueError(f"repeats must be >= 1, got {repeats}")
  if heuristic not in baselines.METHODS:
    raise ValueError(f"unknown heuristic {heuristic!r}; known: {', '.join(sorted(baselines.METHODS))}")
  jax.clear_caches()
  start = time.perf_counter()
  decisions = pretrained_lib.zero_shot(policy, graph, cluster)
  cold = time.perf_counter() - start
  inputs = pretrained_lib.greedy_inputs(policy, graph, cluster)
  inputs_seconds = _median_seconds(lambda: pretrained_lib.greedy_inputs(policy, graph, cluster), repeats)
  forward_seconds = _median_seconds(lambda: pretrained_lib.greedy_decisions(policy, inputs), repeats)
  warm = _median_seconds(lambda: pretrained_lib.zero_shot(policy, graph, cluster), repeats)
  problem = evaluation.Problem(graph, cluster)
  start = time.perf_counter()
  baselines.METHODS[heuristic](problem)
  heuristic_seconds = time.perf_counter() - start
  start = time.perf_counter()
  evaluation.exact_cost(graph, cluster, decisions)
  exact_seconds = time.perf_counter() - start
  return ZeroShotMeasurement(graph=graph.name, num_nodes=graph.num_nodes,
                             padded_nodes=int(inputs.leader.shape[0]), cold_seconds=cold,
                             inputs_seconds=inputs_seconds, forward_seconds=forward_seconds, warm_seconds=warm,
                             heuristic=heuristic, heuristic_seconds=heuristic_seconds,
                             exact_seconds=exact_seconds, repeats=repeats)


def zero_shot_table(rows: list[ZeroShotMeasurement]) -> str:
  """Markdown table of zero-shot measurements, the heuristic's and the exact score's times beside them."""
  lines = ["| graph | nodes N | padded Np | cold zero-shot (s) | warm zero-shot (s, median) "
           "| of which features (s) | of which forward (s) | heuristic (s) | cold / heuristic "
           "| exact score of the decisions (s) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(f"| {r.graph} | {r.num_nodes:,} | {r.padded_nodes:,} | {r.cold_seconds:.3g} "
                 f"| {r.warm_seconds:.3g} (of {r.repeats}) | {r.inputs_seconds:.3g} | {r.forward_seconds:.3g} "
                 f"| {r.heuristic} {r.heuristic_seconds:.3g} | {r.cold_seconds / r.heuristic_seconds:.2g}x "
                 f"| {r.exact_seconds:.3g} |")
  return "\n".join(lines)


def _shown_path(path: str) -> str:
  """``path`` relative to the working directory when inside it (the repository, for the shipped policy)."""
  relative = os.path.relpath(path)
  return path if relative.startswith("..") else relative


def zero_shot_section(rows: list[ZeroShotMeasurement], policy: pretrained_lib.PretrainedPolicy,
                      cluster: cluster_lib.Cluster, load_seconds: float, command: str,
                      load_average: str = "") -> str:
  """The markdown appended to BENCHMARKS.md: heading, machine, policy, command, table."""
  network = policy.network
  return "\n".join([
      "## Zero-shot inference (pretrained policy)", "",
      f"Machine: {model_benchmark.machine_description()}{load_average}.", "",
      f"Policy: {_shown_path(policy.path)} (iteration {policy.step}; tasks {','.join(network.tasks)}), loaded in "
      f"{load_seconds:.2f} s; cluster {cluster.name}.", "",
      "Cold = the first `go_jax.rl.pretrained.zero_shot` call after `jax.clear_caches()` (tracing and "
      "compilation included): what `python -m experiments.optimize` spends on its decisions. Warm = the "
      "same call once compiled, split into its host half (padded features, colocation leaders) and the "
      "jitted forward pass. Beside them, one run of a constructive heuristic on the same graph and one "
      "exact reference simulation of the zero-shot decisions (what `optimize` prints).", "",
      f"Command: `{command}`", "",
      zero_shot_table(rows), ""])
