"""On-disk cache of traced workload graphs, in GO-JAX's own format.

A graph is stored as ``<cache dir>/<workload>-<key>.gograph.npz`` where the key
hashes the workload name, its resolved knobs, the versions of jax, jaxlib,
flax, optax and go_jax, and the source of the models, the training step, the
registry and the JAX importer (so editing any of them invalidates the cached
graphs; editing the expert placements does not). Writes
are atomic (:func:`go_jax.graph.serialization.save`); a file that cannot be
read is traced again and overwritten.

The cache directory is ``$GO_JAX_CACHE`` if set, else
``~/.cache/go_jax/graphs``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import pathlib
from typing import Any, Mapping

from absl import logging

from go_jax.graph import graph as graph_lib
from go_jax.graph import serialization

ENV_VAR = "GO_JAX_CACHE"
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "go-jax")


def default_dir() -> pathlib.Path:
  """The cache directory: ``$GO_JAX_CACHE`` or ``~/.cache/go_jax/graphs``."""
  env = os.environ.get(ENV_VAR)
  return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "go_jax" / "graphs"


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
  """Installed versions of the packages a traced graph depends on."""
  out = {}
  for package in _PACKAGES:
    try:
      out[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      out[package] = "unknown"
  return out


# Sources that shape a traced graph (expert placements and this module do not).
_TRACE_SOURCES = ("workloads/models/*.py", "workloads/training.py", "workloads/registry.py",
                  "graph/jax_import.py", "graph/cost_rules.py", "graph/graph.py", "graph/ops.py")


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
  """SHA-256 of the sources a traced graph depends on: the models and the importer."""
  package = pathlib.Path(__file__).resolve().parent.parent
  digest = hashlib.sha256()
  for pattern in _TRACE_SOURCES:
    for path in sorted(package.glob(pattern)):
      digest.update(path.relative_to(package).as_posix().encode())
      digest.update(path.read_bytes())
  return digest.hexdigest()


def cache_key(name: str, knobs: Mapping[str, Any]) -> str:
  """A 20-hex-digit key of (workload, knobs, package versions, source)."""
  record = {"workload": name, "knobs": dict(sorted(knobs.items())), "versions": versions(),
            "source": source_digest()}
  return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:20]


def path_for(name: str, knobs: Mapping[str, Any], cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
  """Where the graph of ``name`` with ``knobs`` is cached."""
  directory = pathlib.Path(cache_dir) if cache_dir is not None else default_dir()
  return directory / f"{name}-{cache_key(name, knobs)}{serialization.SUFFIX}"


def load(path: pathlib.Path) -> graph_lib.ComputationGraph | None:
  """The cached graph at ``path``, or None if it is missing or unreadable (logged)."""
  if not path.exists():
    return None
  try:
    return serialization.load(path)
  except graph_lib.GraphError as e:
    logging.warning("ignoring unreadable cached graph (will re-trace): %s", e)
    return None


def store(graph: graph_lib.ComputationGraph, path: pathlib.Path) -> bool:
  """Writes ``graph`` atomically; returns False (logged) if the cache is not writable."""
  try:
    serialization.save(graph, path)
    return True
  except OSError as e:
    logging.warning("could not cache graph %s at %s: %s", graph.name, path, e)
    return False
