"""Time and memory of one policy forward + backward pass, for experiments/bench_policy.py.

The measured step is what a PPO update does per graph: sample every node's
decisions, then take the gradient of ``sum(log_prob) * advantage`` (a random
per-graph advantage) with respect to all parameters. Graphs come from
:func:`go_jax.models.synthetic_graphs.random_graph` and are padded to their
size bucket, as in training.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import platform
import resource
import statistics
import time

import jax
import jax.numpy as jnp
import ml_collections

from go_jax.graph import features
from go_jax.models import policy
from go_jax.models import synthetic_graphs


@dataclasses.dataclass(frozen=True)
class StepMeasurement:
  """One row of the benchmark table."""

  num_nodes: int  # real nodes N
  num_edges: int  # real edges E
  padded_nodes: int  # Np, the size bucket
  padded_edges: int  # Ep
  compile_seconds: float  # trace + XLA compile of the step, seconds
  step_seconds: float  # median wall time of one compiled step, seconds
  repeats: int  # timed steps after the first
  xla_temp_bytes: int  # XLA's temporary buffers of the compiled step, bytes
  xla_total_bytes: int  # temp + arguments + outputs - aliased, bytes
  peak_rss_bytes: int  # peak resident set size of this process so far, bytes


def _surrogate_loss(network: policy.PolicyNetwork, params, graphs, num_devices, rng):
  """PPO-like objective: sum over nodes of joint log-probs, times a random advantage per graph."""
  sample_rng, advantage_rng = jax.random.split(rng)
  output = policy.sample_batch(network, params, graphs, num_devices, sample_rng)
  log_prob = policy.joint_log_prob(output.log_prob).sum(axis=-1)  # (B,)
  advantage = jax.random.normal(advantage_rng, log_prob.shape)
  return -(log_prob * advantage).sum()


def _peak_rss_bytes() -> int:
  # ru_maxrss is in KiB on Linux.
  return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def measure_step(config: ml_collections.ConfigDict, num_nodes: int, num_devices: int = 8,
                 repeats: int = 3, seed: int = 0) -> StepMeasurement:
  """Compiles and times one forward + backward pass on a random graph of ``num_nodes`` nodes.

  Args:
    config: model config (:func:`go_jax.models.config.get_model_config`).
    num_nodes: real nodes of the random graph.
    num_devices: devices the placement head may use.
    repeats: timed runs after one warm-up run; with 0, the warm-up run is
      the one timed (compilation is done ahead of time, never timed here).
    seed: seed of the graph, the parameters and the sampling.

  Returns:
    The measurement.
  """
  graph = synthetic_graphs.random_graph(num_nodes, seed=seed)
  graphs = policy.stack_graphs([features.to_graphs_tuple(graph)])
  network = policy.make_policy(config)
  single = jax.tree.map(lambda x: x[0], graphs)
  params = jax.jit(functools.partial(policy.init_params, network))(jax.random.key(seed), single)
  devices = jnp.full((1,), num_devices, jnp.int32)
  grad_fn = jax.jit(jax.grad(functools.partial(_surrogate_loss, network)))

  start = time.perf_counter()
  compiled = grad_fn.trace(params, graphs, devices, jax.random.key(seed)).lower().compile()
  compile_seconds = time.perf_counter() - start
  memory = compiled.memory_analysis()
  temp_bytes = int(getattr(memory, "temp_size_in_bytes", 0) or 0)
  total_bytes = temp_bytes + int(getattr(memory, "argument_size_in_bytes", 0) or 0) + int(
      getattr(memory, "output_size_in_bytes", 0) or 0) - int(getattr(memory, "alias_size_in_bytes", 0) or 0)

  times = []
  for run in range(repeats + 1):
    start = time.perf_counter()
    jax.block_until_ready(compiled(params, graphs, devices, jax.random.key(seed + run)))
    times.append(time.perf_counter() - start)
  timed = times[1:] if repeats else times
  padded_nodes, padded_edges = single.nodes["op_type"].shape[0], single.senders.shape[0]
  return StepMeasurement(
      num_nodes=graph.num_nodes, num_edges=graph.num_edges, padded_nodes=int(padded_nodes),
      padded_edges=int(padded_edges), compile_seconds=compile_seconds,
      step_seconds=statistics.median(timed), repeats=len(timed), xla_temp_bytes=temp_bytes,
      xla_total_bytes=total_bytes, peak_rss_bytes=_peak_rss_bytes())


def cpu_name() -> str:
  """The CPU model from /proc/cpuinfo, else the platform's machine name."""
  try:
    with open("/proc/cpuinfo") as cpuinfo:
      names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
  except OSError:
    names = []
  return names[0] if names else (platform.processor() or platform.machine())


def machine_description() -> str:
  """One line naming the host, CPU count, JAX backend and date (UTC)."""
  cpu = cpu_name()
  date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  return (f"{date}; {cpu}, {os.cpu_count()} cores visible (shared); "
          f"jax {jax.__version__} on {jax.default_backend()}")


def format_table(rows: list[StepMeasurement]) -> str:
  """Markdown table of measurements."""
  mib = 2**20
  lines = ["| nodes N | edges E | padded Np / Ep | compile (s) | fwd+bwd step (s) | XLA temp (MiB) "
           "| XLA total (MiB) | peak RSS (MiB) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for row in rows:
    lines.append(f"| {row.num_nodes:,} | {row.num_edges:,} | {row.padded_nodes:,} / {row.padded_edges:,} "
                 f"| {row.compile_seconds:.1f} | {row.step_seconds:.2f} (median of {row.repeats}) "
                 f"| {row.xla_temp_bytes / mib:,.0f} | {row.xla_total_bytes / mib:,.0f} "
                 f"| {row.peak_rss_bytes / mib:,.0f} |")
  return "\n".join(lines)


def config_summary(config: ml_collections.ConfigDict) -> str:
  """One line with the config fields that drive cost."""
  fields = ("hidden_size", "gnn_hops", "num_attention_layers", "num_heads", "segment_length",
            "memory_length", "max_devices", "num_priority_levels", "tasks", "remat")
  return ", ".join(f"{field}={config[field]}" for field in fields)


def benchmark_section(rows: list[StepMeasurement], config: ml_collections.ConfigDict, command: str) -> str:
  """The markdown appended to BENCHMARKS.md: heading, context, table."""
  return "\n".join([
      "## Policy forward+backward", "",
      f"Machine: {machine_description()}.", "",
      f"Config: {config_summary(config)}.", "",
      "One step = sample all decisions of one random graph (batch of 1, 8 devices) and take the gradient "
      "of sum(log-prob) x random advantage w.r.t. all parameters. Peak RSS is the process's high-water mark "
      "so far (sizes run in increasing order).", "",
      f"Command: `{command}`", "",
      format_table(rows), ""])


def append_section(path: str, section: str) -> None:
  """Appends ``section`` to the markdown file at ``path`` (created if missing), never overwriting."""
  exists = os.path.exists(path)
  with open(path, "a") as out:
    if not exists:
      out.write("# Benchmarks\n")
    out.write("\n" + section)
