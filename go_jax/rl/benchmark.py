"""Training throughput of GO-one: PPO iterations/s and simulated graphs/s (library of experiments.bench_train).

One measurement builds a random graph (:func:`simulator.bench.random_graph`),
compiles :func:`go_jax.rl.iteration.train_iteration` for it ahead of time
(timed apart), then times ``repeats`` whole iterations (sample K decision
vectors, simulate them, ``num_epochs`` x ``num_minibatches`` Adam steps) and
reports the median. "Simulated graphs/s" counts the K decision vectors an
iteration scores, so it is ``K x iterations/s``.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import jax
import ml_collections

from go_jax.models import benchmark as model_benchmark
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
