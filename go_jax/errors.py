"""Error types shared across GO-JAX.

:class:`InputError` is the base of every error caused by bad user input (a
malformed file, an unknown workload or preset, an invalid decision vector).
Command-line entry points turn it into one line on stderr and exit status 2
(see ``experiments/cli.py``); anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
  """Bad user input. The message is one line naming the file/line/node at fault."""
