"""Locating ``../shared/data`` (third-party graphs with measured costs) from tests."""

import os

import pytest

SHARED_DATA = os.environ.get(
    "GO_JAX_SHARED_DATA",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data"))


def path(*parts: str) -> str:
  """Path under the shared data folder; skips the test if it is absent."""
  full = os.path.normpath(os.path.join(SHARED_DATA, *parts))
  if not os.path.exists(full):
    pytest.skip(f"shared data not found at {full} (set GO_JAX_SHARED_DATA to its folder)")
  return full
