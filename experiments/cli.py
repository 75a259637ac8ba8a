"""Shared plumbing for the ``experiments`` entry points.

:func:`run` wraps ``absl.app.run``: bad user input (:class:`go_jax.errors.InputError`)
becomes one line on stderr and exit status 2, with no traceback; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, Callable, Sequence

from absl import app

from go_jax import errors


def write_atomically(text: str, path: str) -> None:
  """Writes ``text`` to ``path`` via a temporary file in the same folder and a rename.

  Nothing half-written is ever left at ``path``; a missing folder is created.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
    with os.fdopen(fd, "w") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def fail(message: str) -> None:
  """Prints ``error: message`` as one line on stderr and exits with status 2."""
  print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
  sys.exit(2)


def run(main: Callable[[Sequence[str]], Any]) -> None:
  """Runs an absl ``main``, turning input errors into exit status 2."""

  def guarded(argv: Sequence[str]) -> Any:
    if len(argv) > 1:
      fail(f"unexpected positional arguments: {' '.join(argv[1:])} (use --flags)")
    try:
      return main(argv)
    except errors.InputError as e:
      fail(str(e))
    except KeyError as e:  # registry look-ups name the valid keys
      fail(e.args[0] if e.args else repr(e))

  app.run(guarded)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
  """Formats dicts as an aligned plain-text table (numbers right-aligned)."""
  if not rows:
    return "(no rows)"
  columns = list(columns or rows[0].keys())

  def cell(value: Any) -> str:
    if isinstance(value, float):
      return f"{value:.4g}"
    return str(value)

  cells = [[cell(r.get(c, "")) for c in columns] for r in rows]
  widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
  numeric = [all(isinstance(r.get(c), (int, float)) for r in rows) for c in columns]
  def line(values):
    return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()
  out = [line(columns), line(["-" * w for w in widths])]
  out.extend(line(row) for row in cells)
  return "\n".join(out)


def print_json(obj: Any) -> None:
  """Prints one JSON object on stdout."""
  print(json.dumps(obj, sort_keys=False))
