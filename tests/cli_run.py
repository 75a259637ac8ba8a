"""Running the command lines of ``experiments/`` from tests, and checking their input-error contract.

The contract (for every CLI, through ``experiments.cli``): bad input ends the
run with exit status 2 and one line ``error: ...`` on stderr that names what
is wrong, never a traceback. Log lines written before the error (absl, JAX
start-up) may precede it, so the error is the last line.
"""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
  """``python -m MODULE ARGS`` from the repository root; the finished process, output captured as text."""
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)


def check_input_error(proc: subprocess.CompletedProcess, *fragments: str, only_line: bool = False) -> str:
  """Asserts that ``proc`` stopped on bad input: exit 2, no traceback, and a last stderr line
  ``error: ...`` holding every fragment (the only stderr line with ``only_line``). Returns that line."""
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  lines = proc.stderr.strip().splitlines()
  assert lines, "nothing on stderr"
  if only_line:
    assert len(lines) == 1, proc.stderr[-2000:]
  last = lines[-1]
  assert last.startswith("error: "), last
  for fragment in fragments:
    assert fragment in last, (fragment, last)
  return last
