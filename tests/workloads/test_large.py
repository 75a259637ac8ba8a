"""The paper-sized variants (slow: tens of seconds per trace; cached afterwards)."""

from __future__ import annotations


import numpy as np
import pytest

from go_jax.workloads import expert
from go_jax.workloads import registry

pytestmark = pytest.mark.slow

_GIB = 2**30


@pytest.mark.parametrize("name,min_nodes", [("rnnlm_8", 50_000), ("gnmt_8", 80_000)])
def test_largest_graphs_have_paper_size(name, min_nodes):
  record = registry.load_workload(name)  # default cache dir: traced once per machine
  graph = record.graph
  assert graph.num_nodes >= min_nodes
  assert graph.meta["trace_peak_rss_bytes"] < 8 * _GIB
  again = registry.load_workload(name)
  assert again.from_cache
  placement = expert.expert_placement(name, graph, 8)
  assert placement.min() == 0 and placement.max() == 7
  grouped = graph.colocation >= 0
  votes = {}
  for group, device in zip(graph.colocation[grouped], placement[grouped]):
    votes.setdefault(int(group), set()).add(int(device))
  assert all(len(v) == 1 for v in votes.values())
  assert np.unique(placement).size == 8
