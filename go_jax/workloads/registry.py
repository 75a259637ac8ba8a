"""The workload registry: named variants of the model families, traced and cached.

Each entry of :data:`WORKLOADS` is a :class:`WorkloadSpec`: a family, a
factory ``make_problem(**knobs) -> training.TrainingProblem`` and the
variant's default knobs. :func:`get_graph` traces the full training step with
:func:`go_jax.graph.jax_import.from_jax` (or loads it from the cache) and adds:

* colocation groups: each parameter with its optimizer slots (Adam ``mu`` /
  ``nu``, momentum traces), as TensorFlow colocates a variable with its slot
  variables;
* ``meta``: ``workload``, ``family``, ``knobs``, ``trace_seconds`` (of the
  first, uncached trace), ``trace_peak_rss_bytes`` (process peak RSS after the
  trace), ``versions`` and ``cache_key``.
"""

from __future__ import annotations

import dataclasses
import functools
import resource
import sys
import time
import types
from typing import Any, Callable, Mapping

import numpy as np
from absl import logging

from go_jax import errors
from go_jax.graph import graph as graph_lib
from go_jax.graph import jax_import
from go_jax.workloads import cache
from go_jax.workloads import training
from go_jax.workloads.models import amoebanet
from go_jax.workloads.models import bert
from go_jax.workloads.models import gnmt
from go_jax.workloads.models import inception
from go_jax.workloads.models import resnet
from go_jax.workloads.models import rnnlm
from go_jax.workloads.models import transformer_xl
from go_jax.workloads.models import wavenet


class UnknownWorkloadError(errors.InputError, KeyError):
  """An unknown workload name or knob; the message lists the valid ones."""

  def __str__(self):  # KeyError would quote the message.
    return str(self.args[0]) if self.args else ""


@dataclasses.dataclass(frozen=True)
class WorkloadSpec:
  """A named workload variant.

  Attributes:
    family: model family (key of the expert-placement registry).
    factory: ``make_problem(**knobs) -> training.TrainingProblem``.
    knobs: default knob values of this variant (all knobs the factory takes
      that the variant fixes; other factory arguments keep their defaults).
    description: one line for listings.
  """

  family: str
  factory: Callable[..., training.TrainingProblem]
  knobs: Mapping[str, Any]
  description: str = ""


@dataclasses.dataclass(frozen=True)
class WorkloadRecord:
  """A loaded workload: its graph plus how it was obtained."""

  name: str
  family: str
  knobs: Mapping[str, Any]
  graph: graph_lib.ComputationGraph
  trace_seconds: float  # of the first, uncached trace
  load_seconds: float  # of this call (trace or cache read)
  from_cache: bool
  cache_path: str | None


def _spec(family, factory, description, **knobs) -> WorkloadSpec:
  return WorkloadSpec(family, factory, types.MappingProxyType(knobs), description)


# Unroll lengths are chosen so that the 8-layer RNNLM/GNMT graphs have the size
# of the paper's TF graphs (> 50k nodes; GNMT-8 > 80k).
_RNNLM_UNROLL = 128
_GNMT_UNROLL = 88

WORKLOADS: Mapping[str, WorkloadSpec] = types.MappingProxyType({
    **{f"rnnlm_{n}": _spec("rnnlm", rnnlm.make_problem, f"{n}-layer LSTM language model, unrolled",
                           num_layers=n, unroll=_RNNLM_UNROLL, batch=64, hidden=2048, vocab=32000)
       for n in (2, 4, 8)},
    **{f"gnmt_{n}": _spec("gnmt", gnmt.make_problem, f"GNMT with {n} encoder + {n} decoder layers, unrolled",
                          num_layers=n, unroll=_GNMT_UNROLL, batch=128, hidden=1024, vocab=32000)
       for n in (2, 4, 8)},
    **{f"txl_{n}": _spec("txl", transformer_xl.make_problem,
                         f"{n}-layer Transformer-XL, recurrence over 4 segments",
                         num_layers=n, num_segments=4, segment_len=128, mem_len=128, batch=32, d_model=512,
                         num_heads=8, d_inner=2048, vocab=32000)
       for n in (2, 4, 8)},
    "inception_v3": _spec("inception", inception.make_problem, "Inception-v3, 299x299",
                          batch=32, image_size=299, num_classes=1000),
    "amoebanet": _spec("amoebanet", amoebanet.make_problem, "AmoebaNet-A (18 normal cells, F=128), 224x224",
                       num_cells=18, filters=128, batch=32, image_size=224, num_classes=1000),
    "wavenet_2x18": _spec("wavenet", wavenet.make_problem, "WaveNet, 2 stacks x 9 layers",
                          num_stacks=2, layers_per_stack=9, length=16000, batch=4, residual_channels=64,
                          dilation_channels=64, skip_channels=256),
    "wavenet_4x36": _spec("wavenet", wavenet.make_problem, "WaveNet, 4 stacks x 9 layers",
                          num_stacks=4, layers_per_stack=9, length=16000, batch=4, residual_channels=64,
                          dilation_channels=64, skip_channels=256),
    "resnet50": _spec("resnet", resnet.make_problem, "ResNet-50, 224x224, SGD+momentum",
                      depth=50, batch=64, image_size=224, num_classes=1000),
    "bert_base": _spec("bert", bert.make_problem, "BERT-base pre-training (MLM + NSP), seq 128",
                       num_layers=12, seq_len=128, batch=32, d_model=768, num_heads=12, d_inner=3072,
                       vocab=30522),
})


def list_workloads() -> list[str]:
  """Names of the registered workloads, sorted."""
  return sorted(WORKLOADS)


def get_spec(name: str) -> WorkloadSpec:
  """The spec of ``name``.

  Raises:
    UnknownWorkloadError: naming the valid workloads.
  """
  try:
    return WORKLOADS[name]
  except KeyError:
    raise UnknownWorkloadError(
        f"unknown workload {name!r}; valid workloads: {', '.join(list_workloads())}") from None


def resolve_knobs(name: str, **knobs) -> dict[str, Any]:
  """The variant's default knobs overridden by ``knobs``.

  Raises:
    UnknownWorkloadError: for an unknown workload or knob (listing the valid ones).
  """
  spec = get_spec(name)
  unknown = sorted(set(knobs) - set(spec.knobs))
  if unknown:
    raise UnknownWorkloadError(f"workload {name!r} has no knob {', '.join(unknown)}; "
                               f"valid knobs: {', '.join(sorted(spec.knobs))}")
  return {**spec.knobs, **knobs}


def _peak_rss_bytes() -> int:
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return int(peak if sys.platform == "darwin" else peak * 1024)


def _colocate_optimizer_slots(graph: graph_lib.ComputationGraph) -> np.ndarray:
  """(N,) int32 colocation: each ``params/<p>`` with its ``opt_state/.../<p>`` slots.

  Existing groups are kept; new group ids start after the largest existing one.
  """
  colocation = np.array(graph.colocation, np.int32)
  base = max(int(colocation.max()) + 1, 0)
  group_of: dict[str, int] = {}
  for i, name in enumerate(graph.node_names):
    if name.startswith("params/") and colocation[i] < 0:
      group_of[name[len("params/"):]] = colocation[i] = base + len(group_of)
  for i, name in enumerate(graph.node_names):
    if not name.startswith("opt_state/") or colocation[i] >= 0:
      continue
    parts = name.split("/")
    for k in range(2, len(parts)):
      group = group_of.get("/".join(parts[k:]))
      if group is not None:
        colocation[i] = group
        break
  return colocation


def trace(name: str, knobs: Mapping[str, Any]) -> graph_lib.ComputationGraph:
  """Traces the training step of workload ``name`` with resolved ``knobs`` (no cache)."""
  spec = get_spec(name)
  logging.info("tracing workload %s with %s", name, dict(knobs))
  start = time.perf_counter()
  step, example_args = training.build_train_step(spec.factory(**knobs))
  graph = jax_import.from_jax(step, *example_args, name=name, param_argnums=(0, 1, 2))
  elapsed = time.perf_counter() - start
  logging.info("traced %s: %d nodes in %.1f s", name, graph.num_nodes, elapsed)
  meta = {**graph.meta, "workload": name, "family": spec.family, "knobs": dict(knobs),
          "trace_seconds": elapsed, "trace_peak_rss_bytes": _peak_rss_bytes(),
          "versions": cache.versions(), "cache_key": cache.cache_key(name, knobs)}
  return dataclasses.replace(graph, colocation=_colocate_optimizer_slots(graph), meta=meta)


def load_workload(name: str, cache_dir: str | None = None, use_cache: bool = True, **knobs) -> WorkloadRecord:
  """Loads workload ``name`` (knobs overriding its defaults), tracing on a cache miss.

  Args:
    name: a registered workload (see :func:`list_workloads`).
    cache_dir: cache directory (default ``$GO_JAX_CACHE`` or
      ``~/.cache/go_jax/graphs``).
    use_cache: read and write the cache.
    **knobs: overrides of the variant's knobs (e.g. ``unroll=8``).

  Returns:
    The :class:`WorkloadRecord`.

  Raises:
    UnknownWorkloadError: unknown workload or knob (a one-line InputError).
  """
  spec = get_spec(name)
  knobs = resolve_knobs(name, **knobs)
  start = time.perf_counter()
  path = cache.path_for(name, knobs, cache_dir) if use_cache else None
  graph = cache.load(path) if path is not None else None
  from_cache = graph is not None and graph.meta.get("cache_key") == cache.cache_key(name, knobs)
  if not from_cache:
    graph = trace(name, knobs)
    if path is not None:
      cache.store(graph, path)
  return WorkloadRecord(name=name, family=spec.family, knobs=types.MappingProxyType(knobs), graph=graph,
                        trace_seconds=float(graph.meta["trace_seconds"]),
                        load_seconds=time.perf_counter() - start, from_cache=from_cache,
                        cache_path=str(path) if path is not None else None)


def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
  """A workload variant's name and knob overrides.

  ``"rnnlm_2:unroll=8,batch=32"`` -> ``("rnnlm_2", {"unroll": 8, "batch": 32})``; values are
  ints, else floats, else strings; ``"rnnlm_2"`` -> ``("rnnlm_2", {})``.

  Raises:
    errors.InputError: a knob that is not ``key=value``.
  """
  name, _, knob_text = spec.partition(":")
  knobs: dict[str, Any] = {}
  for item in (part.strip() for part in knob_text.split(",")):
    if not item:
      continue
    key, eq, value = item.partition("=")
    if not eq:
      raise errors.InputError(f"workload variant {spec!r}: knob {item!r} is not key=value")
    for kind in (int, float, str):
      try:
        knobs[key.strip()] = kind(value.strip())
        break
      except ValueError:
        continue
  return name.strip(), knobs


def get_graph(name: str, cache_dir: str | None = None, **knobs) -> graph_lib.ComputationGraph:
  """The training-step graph of workload ``name``; see :func:`load_workload`."""
  return load_workload(name, cache_dir=cache_dir, **knobs).graph


@functools.lru_cache(maxsize=None)
def _trace_info_cached(name: str, cache_dir: str | None, knob_items: tuple) -> dict[str, Any]:
  record = load_workload(name, cache_dir=cache_dir, **dict(knob_items))
  meta = record.graph.meta
  return {"workload": name, "family": record.family, "knobs": dict(record.knobs),
          "nodes": record.graph.num_nodes, "edges": record.graph.num_edges,
          "trace_seconds": record.trace_seconds, "trace_peak_rss_bytes": meta.get("trace_peak_rss_bytes"),
          "cache_path": record.cache_path}


def trace_info(name: str, cache_dir: str | None = None, **knobs) -> dict[str, Any]:
  """Sizes and trace cost of workload ``name`` (loads or traces it once per process)."""
  return dict(_trace_info_cached(name, cache_dir, tuple(sorted(resolve_knobs(name, **knobs).items()))))
