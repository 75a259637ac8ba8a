"""Shared fixtures: small variants of every family, traced once per test session."""

from __future__ import annotations

import functools

import pytest

from go_jax import workloads

# Knobs that make each family trace in seconds while keeping its structure.
SMALL_KNOBS = {
    "rnnlm_2": dict(unroll=3, batch=2, hidden=16, vocab=50),
    "gnmt_4": dict(unroll=3, batch=2, hidden=16, vocab=50),
    "txl_2": dict(num_segments=2, segment_len=4, mem_len=4, batch=2, d_model=16, num_heads=2, d_inner=32,
                  vocab=50),
    "bert_base": dict(num_layers=2, seq_len=8, batch=2, d_model=16, num_heads=2, d_inner=32, vocab=50),
    "wavenet_2x18": dict(layers_per_stack=3, length=16, batch=2, residual_channels=4, dilation_channels=4,
                         skip_channels=8),
    "resnet50": dict(batch=2, image_size=32, num_classes=10),
    "inception_v3": dict(batch=1, image_size=139, num_classes=10),
    "amoebanet": dict(num_cells=3, filters=8, batch=1, image_size=32, num_classes=10),
}


@pytest.fixture(scope="session")
def graph_cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("graphs"))


@pytest.fixture(scope="session")
def small_graph(graph_cache_dir):
  """small_graph(name) -> the traced small variant of workload ``name`` (memoized)."""

  @functools.lru_cache(maxsize=None)
  def load(name: str):
    return workloads.load_workload(name, cache_dir=graph_cache_dir, **SMALL_KNOBS[name])

  return load
