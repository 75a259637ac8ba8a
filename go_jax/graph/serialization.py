"""GO-JAX's own on-disk graph format (``.gograph.npz``), versioned, never pickle.

A file is an uncompressed-or-compressed numpy ``.npz`` archive holding:

* ``__header__``: a 0-d unicode array with a JSON object
  ``{"format": "go_jax.graph", "version": 1, "name": ..., "meta": {...},
  "latency_kinds": [...], "node_attrs": [...], "has_transfer_time": bool}``;
* ``node_names``: (N,) unicode;
* the struct-of-arrays fields of :class:`~go_jax.graph.graph.ComputationGraph`
  under their own names (``op_type``, ``dims``, ``flops``, ...);
* ``latency/<kind>``, ``node_attr/<key>`` and optionally ``transfer_time``.

Loading uses ``allow_pickle=False``, so a file can hold nothing but arrays.
Round-trip is exact (bitwise) for every array. Writes are atomic: a temporary
file is renamed into place, so a failed write leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from go_jax.graph import graph as graph_lib

FORMAT = "go_jax.graph"
VERSION = 1
SUFFIX = ".gograph.npz"

_ARRAY_FIELDS = ("op_type", "dtype", "rank", "dims", "flops", "bytes_read", "bytes_written",
                 "output_bytes", "param_bytes", "colocation", "senders", "receivers", "edge_bytes")


def save(graph: graph_lib.ComputationGraph, path: str | os.PathLike, compress: bool = True) -> None:
  """Writes ``graph`` to ``path`` atomically."""
  header = {
      "format": FORMAT,
      "version": VERSION,
      "name": graph.name,
      "meta": dict(graph.meta),
      "latency_kinds": sorted(graph.latency),
      "node_attrs": sorted(graph.node_attrs),
      "has_transfer_time": graph.transfer_time is not None,
  }
  arrays = {"__header__": np.asarray(json.dumps(header)),
            "node_names": np.asarray(graph.node_names, dtype=np.str_)}
  for field in _ARRAY_FIELDS:
    arrays[field] = getattr(graph, field)
  for kind, values in graph.latency.items():
    arrays[f"latency/{kind}"] = values
  for key, values in graph.node_attrs.items():
    arrays[f"node_attr/{key}"] = values
  if graph.transfer_time is not None:
    arrays["transfer_time"] = graph.transfer_time
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
  try:
    with os.fdopen(fd, "wb") as f:
      (np.savez_compressed if compress else np.savez)(f, **arrays)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def is_gograph(path: str | os.PathLike) -> bool:
  """True if ``path`` is a zip archive whose header says it is a GO-JAX graph."""
  try:
    with zipfile.ZipFile(path) as archive:
      return "__header__.npy" in archive.namelist()
  except (zipfile.BadZipFile, OSError):
    return False


def load(path: str | os.PathLike) -> graph_lib.ComputationGraph:
  """Reads a graph written by :func:`save`.

  Raises:
    graph_lib.GraphError: naming the file, if it is not a readable GO-JAX graph
      of a supported version, or the graph in it is invalid.
  """
  path = os.fspath(path)
  try:
    with np.load(path, allow_pickle=False) as data:
      if "__header__" not in data.files:
        raise graph_lib.GraphError(f"{path}: not a GO-JAX graph file (no header)")
      header = json.loads(str(data["__header__"]))
      if header.get("format") != FORMAT:
        raise graph_lib.GraphError(f"{path}: format {header.get('format')!r} is not {FORMAT!r}")
      if header.get("version") != VERSION:
        raise graph_lib.GraphError(f"{path}: unsupported version {header.get('version')!r} "
                                   f"(this GO-JAX reads version {VERSION})")
      fields = {field: data[field] for field in _ARRAY_FIELDS}
      latency = {kind: data[f"latency/{kind}"] for kind in header["latency_kinds"]}
      attrs = {key: data[f"node_attr/{key}"] for key in header["node_attrs"]}
      transfer = data["transfer_time"] if header["has_transfer_time"] else None
      names = tuple(data["node_names"].tolist())
  except graph_lib.GraphError:
    raise
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as e:
    raise graph_lib.GraphError(f"{path}: cannot read GO-JAX graph file: {e}") from None
  try:
    return graph_lib.ComputationGraph(name=header["name"], node_names=names, latency=latency,
                                      transfer_time=transfer, node_attrs=attrs, meta=header["meta"],
                                      **fields)
  except graph_lib.GraphError as e:
    raise graph_lib.GraphError(f"{path}: {e}") from None
