"""One entry point for every graph source: ``load_graph(path_or_workload_name)``.

The format is picked from the file's content (falling back to its extension):

=====================  =========================================  ======================
format                 recognised by                              importer
=====================  =========================================  ======================
GO-JAX graph           zip archive with a ``__header__`` array    ``serialization.load``
XLA HLO text           ``HloModule`` / ``ENTRY`` in the head      ``hlo_import.load_hlo``
dnn-partitioning JSON  ``maxSizePerFPGA`` / ``fpgaLatency`` keys  ``dnn_partitioning.load``
PipeDream profile      ``nodeK -- ... -- forward_compute_time=``  ``pipedream.load``
=====================  =========================================  ======================

A directory holding a PipeDream ``graph.txt`` loads that file. A string that is
not an existing path is looked up in the workload zoo (``go_jax.workloads``), as a
name (``rnnlm_2``) or a variant with knob overrides (``rnnlm_2:unroll=6,batch=8``).
"""

from __future__ import annotations

import importlib
import os
from typing import Callable, NamedTuple

from go_jax import errors
from go_jax.graph import dnn_partitioning
from go_jax.graph import graph as graph_lib
from go_jax.graph import pipedream
from go_jax.graph import serialization

_HEAD_BYTES = 4096


def _looks_like_hlo(path: str, head: str) -> bool:
  del path
  return "HloModule" in head or head.lstrip().startswith("ENTRY")


def _load_hlo(path: str) -> graph_lib.ComputationGraph:
  hlo_import = importlib.import_module("go_jax.graph.hlo_import")
  return hlo_import.load_hlo(path)


class GraphFormat(NamedTuple):
  """A file format: how to recognise it and how to read it."""

  name: str
  extensions: tuple[str, ...]
  looks_like: Callable[[str, str], bool]  # (path, first 4 KiB as text) -> bool
  load: Callable[[str], graph_lib.ComputationGraph]


FORMATS: tuple[GraphFormat, ...] = (
    GraphFormat("gograph", (serialization.SUFFIX, ".npz"),
                lambda path, head: serialization.is_gograph(path), serialization.load),
    GraphFormat("hlo", (".hlo", ".hlo.txt"), _looks_like_hlo, _load_hlo),
    GraphFormat("dnn-partitioning", (".json",), dnn_partitioning.looks_like, dnn_partitioning.load),
    GraphFormat("pipedream", ("graph.txt",), pipedream.looks_like, pipedream.load),
)


def detect_format(path: str) -> GraphFormat:
  """Returns the format of the file at ``path`` (content first, then extension)."""
  try:
    with open(path, "rb") as f:
      head = f.read(_HEAD_BYTES).decode("utf-8", errors="replace")
  except OSError as e:
    raise graph_lib.GraphError(f"{path}: cannot read: {e.strerror}") from None
  if not head.strip():
    raise graph_lib.GraphError(f"{path}: file is empty")
  for fmt in FORMATS:
    if fmt.looks_like(path, head):
      return fmt
  for fmt in FORMATS:
    if path.endswith(fmt.extensions):
      return fmt
  names = ", ".join(f.name for f in FORMATS)
  raise graph_lib.GraphError(f"{path}: unrecognised graph format (supported: {names})")


def load_file(path: str | os.PathLike) -> graph_lib.ComputationGraph:
  """Loads a graph file (or a directory holding a PipeDream ``graph.txt``)."""
  path = os.fspath(path)
  if os.path.isdir(path):
    candidate = os.path.join(path, "graph.txt")
    if not os.path.exists(candidate):
      raise graph_lib.GraphError(f"{path}: is a directory without a graph.txt")
    path = candidate
  return detect_format(path).load(path)


def load_graph(spec: str | os.PathLike) -> graph_lib.ComputationGraph:
  """Loads a graph from a file path or a workload name.

  Raises:
    errors.InputError: one line naming the file/workload and the problem.
  """
  spec = os.fspath(spec)
  if os.path.exists(spec):
    return load_file(spec)
  looks_like_path = os.sep in spec or "." in os.path.basename(spec.partition(":")[0])
  try:
    workloads = importlib.import_module("go_jax.workloads")
  except ImportError:
    workloads = None
  if workloads is not None and not looks_like_path:
    name, knobs = workloads.parse_variant(spec)  # "rnnlm_2" or a variant, "rnnlm_2:unroll=6"
    return workloads.get_graph(name, **knobs)
  raise errors.InputError(f"{spec}: no such file" + ("" if looks_like_path else " or workload"))
