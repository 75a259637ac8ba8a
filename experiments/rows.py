"""Finished result rows stored one JSON file each, so long comparison runs resume.

Used by ``experiments.results`` (one row per graph, device count and task
variant) and ``experiments.evaluate`` (one record per graph, cluster and
method). A row is keyed by everything that determines it; a later run with the
same folder reuses the rows whose key matches exactly and recomputes the rest.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from experiments import cli
from go_jax import errors


class RowStore:
  """Finished rows as JSON files in ``folder`` (``None``: keep nothing, compute every row).

  ``get(key)`` returns the stored row when the file for ``key`` exists and was
  written for exactly that key (any difference, e.g. another budget or GO
  config, means the row is recomputed); ``put(key, row)`` writes it atomically.
  """

  def __init__(self, folder: str | None, progress: Callable[[str], None] | None = None):
    self.folder = folder
    self.progress = progress
    self.reused = 0
    if folder:
      os.makedirs(folder, exist_ok=True)

  def _path(self, key: dict[str, Any]) -> str:
    name = "-".join(str(key[k]) for k in ("suite", "graph", "devices", "variant") if key.get(k) is not None)
    return os.path.join(self.folder, name.replace(" ", "_").replace("/", "_") + ".json")

  def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
    if not self.folder or not os.path.exists(self._path(key)):
      return None
    path = self._path(key)
    try:
      with open(path) as f:
        stored = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
      raise errors.InputError(f"{path}: not a stored results row ({e}); delete it to recompute") from None
    if stored.get("key") != json.loads(json.dumps(key)):
      if self.progress:
        self.progress(f"{path}: stored for other settings, recomputing")
      return None
    self.reused += 1
    if self.progress:
      self.progress(f"reusing {path}")
    return stored["row"]

  def put(self, key: dict[str, Any], row: dict[str, Any]) -> None:
    if self.folder:
      cli.write_atomically(json.dumps({"key": key, "row": row}, indent=1), self._path(key))
