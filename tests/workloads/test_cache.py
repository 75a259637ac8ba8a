"""The graph cache: keyed, fast on the second load, atomic, and self-healing."""

from __future__ import annotations

import os

import numpy as np

from go_jax.workloads import cache
from go_jax.workloads import registry
from tests.workloads import conftest

_KNOBS = conftest.SMALL_KNOBS["rnnlm_2"]


def test_second_load_comes_from_the_cache_and_is_equal(tmp_path):
  first = registry.load_workload("rnnlm_2", cache_dir=str(tmp_path), **_KNOBS)
  assert not first.from_cache and os.path.exists(first.cache_path)
  second = registry.load_workload("rnnlm_2", cache_dir=str(tmp_path), **_KNOBS)
  assert second.from_cache and second.trace_seconds == first.trace_seconds
  a, b = first.graph, second.graph
  assert a.node_names == b.node_names
  for field in ("op_type", "dims", "flops", "bytes_read", "output_bytes", "param_bytes", "colocation",
                "senders", "receivers", "edge_bytes"):
    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
  np.testing.assert_array_equal(a.node_attrs["is_backward"], b.node_attrs["is_backward"])
  assert dict(b.meta)["knobs"] == {**registry.WORKLOADS["rnnlm_2"].knobs, **_KNOBS}


def test_key_depends_on_knobs_and_env_dir(tmp_path, monkeypatch):
  assert cache.cache_key("rnnlm_2", {"unroll": 3}) != cache.cache_key("rnnlm_2", {"unroll": 4})
  assert cache.cache_key("rnnlm_2", {"unroll": 3}) != cache.cache_key("rnnlm_4", {"unroll": 3})
  monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "env"))
  assert cache.path_for("rnnlm_2", {}).parent == tmp_path / "env"


def test_corrupt_cache_file_is_retraced(tmp_path):
  path = registry.load_workload("rnnlm_2", cache_dir=str(tmp_path), **_KNOBS).cache_path
  with open(path, "wb") as f:
    f.write(b"PK\x03\x04 truncated")
  record = registry.load_workload("rnnlm_2", cache_dir=str(tmp_path), **_KNOBS)
  assert not record.from_cache
  assert registry.load_workload("rnnlm_2", cache_dir=str(tmp_path), **_KNOBS).from_cache
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")], "no temporary files left"
